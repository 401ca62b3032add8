"""Which contract model each (source, DetailType) pair has: for validating sample entries and tooling."""

from __future__ import annotations

from pydantic import BaseModel

from shared.contracts.orders import (
    OrderCompleted,
    OrderFailed,
    OrderNeedsAttention,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
)
from shared.contracts.payments import PaymentCharged, PaymentRefunded
from shared.contracts.trials import (
    TrialAssigned,
    TrialAssignmentFailed,
    TrialExpired,
    TrialNeedsAttention,
    TrialRequested,
)
from shared.contracts.user_signup import UserSignup

CONTRACTS: dict[tuple[str, str], type[BaseModel]] = {
    (UserSignup.SOURCE, UserSignup.DETAIL_TYPE): UserSignup,
    (OrderPlaced.SOURCE, OrderPlaced.DETAIL_TYPE): OrderPlaced,
    (OrderStatusChanged.SOURCE, OrderStatusChanged.DETAIL_TYPE): OrderStatusChanged,
    (OrderRejected.SOURCE, OrderRejected.DETAIL_TYPE): OrderRejected,
    (OrderFailed.SOURCE, OrderFailed.DETAIL_TYPE): OrderFailed,
    (OrderCompleted.SOURCE, OrderCompleted.DETAIL_TYPE): OrderCompleted,
    (OrderNeedsAttention.SOURCE, OrderNeedsAttention.DETAIL_TYPE): OrderNeedsAttention,
    (PaymentCharged.SOURCE, PaymentCharged.DETAIL_TYPE): PaymentCharged,
    (PaymentRefunded.SOURCE, PaymentRefunded.DETAIL_TYPE): PaymentRefunded,
    (TrialRequested.SOURCE, TrialRequested.DETAIL_TYPE): TrialRequested,
    (TrialAssigned.SOURCE, TrialAssigned.DETAIL_TYPE): TrialAssigned,
    (TrialAssignmentFailed.SOURCE, TrialAssignmentFailed.DETAIL_TYPE): TrialAssignmentFailed,
    (TrialExpired.SOURCE, TrialExpired.DETAIL_TYPE): TrialExpired,
    (TrialNeedsAttention.SOURCE, TrialNeedsAttention.DETAIL_TYPE): TrialNeedsAttention,
}


def contract_for(source: str, detail_type: str) -> type[BaseModel]:
    """The model for an event, or KeyError naming the pair that has no contract."""
    try:
        return CONTRACTS[(source, detail_type)]
    except KeyError:
        raise KeyError(f"no contract for source={source!r} detail-type={detail_type!r}") from None
