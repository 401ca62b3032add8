"""README's retention list says what `make destroy` keeps, as the synthesized templates decide it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools import retention

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_lists_every_table_and_bucket_with_its_deletion_policy(templates: dict[str, Any]) -> None:
    # Given the README's retention block
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- retention:begin -->", 1)[1].split("<!-- retention:end -->", 1)[0]

    # Then every table and bucket of the templates has its row, kept exactly when it is retained
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] in retention.LISTED:
                kind = retention.LISTED[resource["Type"]]
                fate = "**kept**" if resource.get("DeletionPolicy") == "Retain" else "deleted"
                assert f"| {stack} | {kind} `{logical_id}` | {fate}" in block, (stack, logical_id)


def test_what_holds_records_is_kept_and_short_lived_records_are_not(templates: dict[str, Any]) -> None:
    # Given the stateful resources of the app
    policies = {
        logical_id: resource.get("DeletionPolicy")
        for template in templates.values()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in retention.LISTED
    }

    # Then the tables of records and the invoice bucket are retained (also on replacement),
    # and the idempotency and payment-token tables (TTL, a day at most) are not
    kept = {i for i, policy in policies.items() if policy == "Retain"}
    assert {i for i in policies if "Idempotency" in i or "PaymentTokens" in i}.isdisjoint(kept)
    assert any("Invoices" in i for i in kept)
    assert len(kept) == len(policies) - len(
        [i for i in policies if "Idempotency" in i or "PaymentTokens" in i]
    )
