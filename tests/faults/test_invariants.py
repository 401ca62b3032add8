"""The invariants themselves, on made-up snapshots: each one finds the offence it is there for."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults import invariants
from tests.faults.plan import CATALOGUE, REDUCED, Run, SentOrder
from tests.faults.snapshot import Alarm, Queue, Snapshot

ORDER = "0b0e8a3c-1111-4222-8333-444455556666"


def snapshot(**changes: Any) -> Snapshot:
    """A clean snapshot: one completed order, charged once, in the ledger, its stock sold."""
    base: dict[str, Any] = {
        "orders": {
            ORDER: {"orderId": ORDER, "status": "COMPLETED", "lines": [{"sku": "FZ-BOOK", "quantity": 1}]}
        },
        "payments": [{"orderId": ORDER, "chargeId": "ch_1", "amountCents": 1250, "status": "CHARGED"}],
        "ledger": [{"entryId": f"CHARGE#{ORDER}", "amountCents": 1250}],
        "stock": {
            i.sku: {"sku": i.sku, "available": i.initial - (i.sku == "FZ-BOOK"), "reserved": 0, "sold": 0}
            | ({"sold": 1} if i.sku == "FZ-BOOK" else {})
            for i in CATALOGUE
        },
        "pool": [],
        "trials": {},
        "trial_stacks": {},
        "queues": {},
        "alarms": [],
        "leaks": {},
        "scanned": {},
    }
    return Snapshot(**(base | changes))


def run() -> Run:
    sent = Run(scale=REDUCED)
    sent.orders = [SentOrder(key="k", token="t", lines=[], intent="normal", status=202, order_id=ORDER)]
    return sent


def test_a_clean_snapshot_breaks_no_invariant() -> None:
    # Given one order completed, charged, recorded and sold; When every invariant looks at it
    verdicts = {i.name: i.check(run(), snapshot()) for i in invariants.INVARIANTS}
    # Then none has an offender
    assert verdicts == {i.name: [] for i in invariants.INVARIANTS}


@pytest.mark.parametrize(
    ("invariant", "changes", "offence"),
    [
        ("no_order_unfinished", {"orders": {ORDER: {"status": "PAID"}}}, "is PAID"),
        (
            "one_charge_per_order",
            {"payments": [{"orderId": ORDER, "chargeId": c, "amountCents": 1250} for c in ("a", "b")]},
            "charged 2 times",
        ),
        ("ledger_balances", {"ledger": [{"entryId": f"REFUND#{ORDER}", "amountCents": 1250}]}, "no CHARGE"),
        ("stock_conserved", {"stock": {}}, "the stock item is gone"),
        (
            "no_token_leaked",
            {"leaks": {"log group /aws/lambda/x": {"tok_fzs0000000000000001"}}},
            "/aws/lambda/x",
        ),
        ("no_stack_leaked", {"trial_stacks": {"trial-env-1": "CREATE_COMPLETE"}}, "belongs to no pool"),
        (
            "no_environment_claimed_twice",
            {"trials": {t: {"trialId": t, "environmentId": "env-1"} for t in ("t1", "t2")}},
            "claimed by trials",
        ),
        (
            "parked_items_alarmed",
            {
                "queues": {"dlq": Queue("dlq", "u", depth=1, visible=1, is_dlq=True)},
                "alarms": [Alarm("a", "AWS/SQS depth", "dlq", 1.0, 1.0, "OK", "OK")],
            },
            "not in ALARM",
        ),
    ],
)
def test_each_invariant_names_its_offender(invariant: str, changes: dict[str, Any], offence: str) -> None:
    # Given a snapshot with one offence; When the invariant looks at it
    [check] = [i for i in invariants.INVARIANTS if i.name == invariant]
    offenders = check.check(run(), snapshot(**changes))
    # Then it lists the offender, saying what is wrong
    assert any(offence in o for o in offenders), offenders
