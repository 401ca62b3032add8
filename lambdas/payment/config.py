"""The payment functions' settings: read from the environment once, at INIT, and checked there."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class PaymentConfig:
    """What the charge and refund functions are told by their stack; nothing here has a default."""

    payments_table_name: str
    event_bus_name: str
    payment_limit_cents: int

    def __post_init__(self) -> None:
        if self.payment_limit_cents < 0:
            raise ValueError("PAYMENT_LIMIT_CENTS must not be negative")


@dataclass(frozen=True, kw_only=True)
class ChargeConfig(PaymentConfig):
    """The charge function reads tokens too, and knows when a message is on its last receive."""

    payment_tokens_table_name: str
    # The payment queue's maxReceiveCount: the receive that would park a message fails its order first.
    payment_max_receives: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.payment_max_receives < 1:
            raise ValueError("PAYMENT_MAX_RECEIVES must be at least 1")


@lru_cache(maxsize=1)
def charge_config() -> ChargeConfig:
    return from_environment(ChargeConfig)


@lru_cache(maxsize=1)
def refund_config() -> PaymentConfig:
    return from_environment(PaymentConfig)
