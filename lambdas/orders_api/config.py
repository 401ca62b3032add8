"""The order API's settings: its environment, read and checked once at INIT, with no defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class Config:
    orders_table_name: str
    payment_tokens_table_name: str
    inventory_table_name: str
    idempotency_table_name: str
    idempotency_expiry_seconds: int
    # How long a payment token is kept (the PaymentTokens table's TTL): the payment must happen before.
    payment_token_ttl_seconds: int

    def __post_init__(self) -> None:
        not_positive = [
            name
            for name, seconds in (
                ("IDEMPOTENCY_EXPIRY_SECONDS", self.idempotency_expiry_seconds),
                ("PAYMENT_TOKEN_TTL_SECONDS", self.payment_token_ttl_seconds),
            )
            if seconds <= 0
        ]
        if not_positive:
            raise ValueError(
                "; ".join(f"{name} must be a positive number of seconds" for name in not_positive)
            )


def load(environ: Mapping[str, str] = os.environ) -> Config:
    return from_environment(Config, environ)
