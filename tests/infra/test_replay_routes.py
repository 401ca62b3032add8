"""Which rules take events replayed from the bus archive: the consumers that make a replay worth
running do; the ones whose effect is news of the moment (notifications, live status) do not."""

from __future__ import annotations

from typing import Any

from tests.infra.helpers import resources

Templates = dict[str, dict[str, Any]]
LIVE_ONLY = [{"exists": False}]


def rules_by_id(templates: Templates) -> dict[str, dict[str, Any]]:
    return {rule_id: props for _, rule_id, props in resources(templates, "AWS::Events::Rule")}


def ids_containing(rules: dict[str, dict[str, Any]], part: str) -> list[str]:
    found = [rule_id for rule_id in rules if part in rule_id]
    assert found, f"no rule {part}"
    return found


def test_notifications_and_live_status_ignore_replayed_events(templates: Templates) -> None:
    rules = rules_by_id(templates)
    for part in ("NotifyRoute", "InvoiceCreatedRoute", "OrderStatusRoute"):
        for rule_id in ids_containing(rules, part):
            pattern = rules[rule_id]["EventPattern"]
            # Then the pattern still names its events and also requires an event that is not replayed
            assert pattern["replay-name"] == LIVE_ONLY, rule_id
            assert pattern["source"] and pattern["detail-type"], rule_id


def test_the_consumers_a_replay_is_for_take_replayed_events(templates: Templates) -> None:
    rules = rules_by_id(templates)
    live_only = {
        rule_id for rule_id, props in rules.items() if "replay-name" in props.get("EventPattern", {})
    }
    # The workflow, accounting, metrics (which counts replays apart), trials and signup see replays
    for part in (
        "OrderPlacedRoute",
        "AccountingRoute",
        "MetricsRoute",
        "AssignTrialRoute",
        "UserSignupRoute",
    ):
        assert not live_only & set(ids_containing(rules, part)), part
    assert len(live_only) == 3, sorted(live_only)
