"""Which contract model each (source, DetailType) pair has: for validating sample entries and tooling."""

from __future__ import annotations

from pydantic import BaseModel

from shared.contracts.orders import ORDER_EVENTS
from shared.contracts.payments import PAYMENT_EVENTS
from shared.contracts.trials import TRIAL_EVENTS
from shared.contracts.user_signup import UserSignup

# In the order of the names module (`names.APP_EVENTS`), which a unit test holds this to.
CONTRACTS: dict[tuple[str, str], type[BaseModel]] = {
    (model.SOURCE, model.DETAIL_TYPE): model
    for model in (UserSignup, *ORDER_EVENTS, *PAYMENT_EVENTS, *TRIAL_EVENTS)
}


def contract_for(source: str, detail_type: str) -> type[BaseModel]:
    """The model for an event, or KeyError naming the pair that has no contract."""
    try:
        return CONTRACTS[(source, detail_type)]
    except KeyError:
        raise KeyError(f"no contract for source={source!r} detail-type={detail_type!r}") from None
