"""The events' names: every source and DetailType of the app, who produces each, and the rule patterns.

Standard library only, never pydantic: the stacks (as `lambdas.shared.contracts.names`) and the cheapest
handlers (as `shared.contracts.names`) import it, and the pydantic models take their SOURCE and
DETAIL_TYPE from it, so each name is written once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# -- sources ----------------------------------------------------------------------------------------
USERS = "myapp.userservice"  # the tutorial's source: anyone in the account may put it, on either bus
ORDERS = "myapp.orders"
PAYMENTS = "myapp.payments"
TRIALS = "OnlineTrial"

# -- DetailTypes ------------------------------------------------------------------------------------
USER_SIGNUP = "user_signup"

ORDER_PLACED = "OrderPlaced"
ORDER_STATUS_CHANGED = "OrderStatusChanged"
ORDER_REJECTED = "OrderRejected"
ORDER_FAILED = "OrderFailed"
ORDER_COMPLETED = "OrderCompleted"
ORDER_NEEDS_ATTENTION = "OrderNeedsAttention"

PAYMENT_CHARGED = "PaymentCharged"
PAYMENT_REFUNDED = "PaymentRefunded"

TRIAL_REQUESTED = "TrialRequested"
TRIAL_ASSIGNED = "TrialAssigned"
TRIAL_ASSIGNMENT_FAILED = "TrialAssignmentFailed"
TRIAL_EXPIRED = "TrialExpired"
TRIAL_NEEDS_ATTENTION = "TrialNeedsAttention"

# Every DetailType by its source, in the order the catalog lists them.
EVENTS: dict[str, tuple[str, ...]] = {
    USERS: (USER_SIGNUP,),
    ORDERS: (
        ORDER_PLACED,
        ORDER_STATUS_CHANGED,
        ORDER_REJECTED,
        ORDER_FAILED,
        ORDER_COMPLETED,
        ORDER_NEEDS_ATTENTION,
    ),
    PAYMENTS: (PAYMENT_CHARGED, PAYMENT_REFUNDED),
    TRIALS: (TRIAL_REQUESTED, TRIAL_ASSIGNED, TRIAL_ASSIGNMENT_FAILED, TRIAL_EXPIRED, TRIAL_NEEDS_ATTENTION),
}
APP_SOURCES: tuple[str, ...] = tuple(EVENTS)
APP_EVENTS: tuple[tuple[str, str], ...] = tuple(
    (source, detail_type) for source, detail_types in EVENTS.items() for detail_type in detail_types
)

# -- producers --------------------------------------------------------------------------------------
# The function (its folder under lambdas/) that puts each event a function publishes. The grant to put
# events says that a function may publish, not what, so this is declared here; the catalog finds the
# function in the synthesized app by its handler and checks that it is granted events:PutEvents. The
# events a state machine publishes are not listed: the catalog reads them from its definition.
FUNCTION_PRODUCERS: dict[tuple[str, str], str] = {
    **{(ORDERS, detail_type): "order_outbox" for detail_type in EVENTS[ORDERS]},
    (PAYMENTS, PAYMENT_CHARGED): "payment",
    (PAYMENTS, PAYMENT_REFUNDED): "payment",
    (TRIALS, TRIAL_REQUESTED): "trial_stream",
    (TRIALS, TRIAL_NEEDS_ATTENTION): "trial_stream",
    (TRIALS, TRIAL_EXPIRED): "trial_stream",
}


# -- rule patterns ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pattern:
    """A rule's event pattern on one source and some of its DetailTypes."""

    source: str
    detail_types: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = [d for d in self.detail_types if d not in EVENTS.get(self.source, ())]
        if unknown:
            raise ValueError(f"{self.source} has no DetailType {unknown}")

    def as_dict(self) -> dict[str, list[str]]:
        """As EventBridge writes it: `{"source": [...], "detail-type": [...]}`."""
        return {"source": [self.source], "detail-type": list(self.detail_types)}


SIGNUP = Pattern(USERS, (USER_SIGNUP,))
ORDER_PLACED_ONLY = Pattern(ORDERS, (ORDER_PLACED,))
ORDER_STATUS = Pattern(ORDERS, (ORDER_STATUS_CHANGED,))
# What the people and services following an order are told: how it ended, or that it is stuck.
ORDER_OUTCOMES = Pattern(ORDERS, (ORDER_COMPLETED, ORDER_FAILED, ORDER_REJECTED, ORDER_NEEDS_ATTENTION))
PAYMENT_OUTCOMES = Pattern(PAYMENTS, (PAYMENT_CHARGED, PAYMENT_REFUNDED))
TRIAL_REQUESTED_ONLY = Pattern(TRIALS, (TRIAL_REQUESTED,))
# What changes a trial environment's life: given to a trial, freed by its end or by a failed assignment.
TRIAL_ENVIRONMENT_CHANGES = Pattern(TRIALS, (TRIAL_ASSIGNED, TRIAL_EXPIRED, TRIAL_ASSIGNMENT_FAILED))


def file_stem(detail_type: str) -> str:
    """The name of an event's generated files (`events/<stem>.json`...): `OrderPlaced` -> `order_placed`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", detail_type).lower()
