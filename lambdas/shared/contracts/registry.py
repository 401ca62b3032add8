"""Which contract model each (source, DetailType) pair has: for validating sample entries and tooling."""

from __future__ import annotations

from pydantic import BaseModel

from shared.contracts.user_signup import UserSignup

CONTRACTS: dict[tuple[str, str], type[BaseModel]] = {
    (UserSignup.SOURCE, UserSignup.DETAIL_TYPE): UserSignup,
}


def contract_for(source: str, detail_type: str) -> type[BaseModel]:
    """The model for an event, or KeyError naming the pair that has no contract."""
    try:
        return CONTRACTS[(source, detail_type)]
    except KeyError:
        raise KeyError(f"no contract for source={source!r} detail-type={detail_type!r}") from None
