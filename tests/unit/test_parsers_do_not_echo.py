"""Every service's parser refuses bad input without repeating it: not in the message, not in the traceback
a runtime would log (a chained pydantic error would quote the input)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest

from accounting.service import parse_event as parse_ledger_event
from inventory.service import parse_request as parse_inventory_request
from order_status.service import parse_event as parse_status_event
from payment.service import parse_payment_request, parse_refund_request
from shared.contracts.trials import TrialExpired, parse_trial_event

SENTINEL = "jane.doe+secret@example.com"


def event(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-12-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


CASES: list[tuple[str, Callable[[Any], Any], Any]] = [
    ("payment request", parse_payment_request, f'{{"orderId": "{SENTINEL}", "taskToken": 5}}'),
    ("refund request", parse_refund_request, {"orderId": SENTINEL}),
    ("inventory request", parse_inventory_request, {"action": SENTINEL, "orderId": SENTINEL}),
    ("ledger event", parse_ledger_event, event("myapp.payments", "PaymentCharged", {"orderId": SENTINEL})),
    ("ledger event of another source", parse_ledger_event, event(SENTINEL, SENTINEL, {})),
    ("status event", parse_status_event, event("myapp.orders", "OrderStatusChanged", {"orderId": SENTINEL})),
    (
        "trial event",
        lambda e: parse_trial_event(e, TrialExpired),
        event("OnlineTrial", "TrialExpired", {"trialId": SENTINEL, "leadId": SENTINEL}),
    ),
]


@pytest.mark.parametrize(("name", "parse", "bad"), CASES, ids=[c[0] for c in CASES])
def test_a_refused_input_is_not_repeated_in_the_error_or_its_traceback(
    name: str, parse: Callable[[Any], Any], bad: Any
) -> None:
    # Given input that breaks the contract and carries a personal value
    # When the service parses it
    with pytest.raises(Exception) as raised:
        parse(bad)
    # Then the error names what is wrong without the value, and nothing chained to it quotes it either
    logged = "".join(traceback.format_exception(raised.value))
    assert SENTINEL not in logged, f"{name}: {logged}"
    assert str(raised.value), name
