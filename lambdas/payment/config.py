"""The payment functions' settings: read from the environment once, at INIT, and checked there."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class PaymentConfig(BaseModel):
    """What the charge and refund functions are told by their stack; nothing here has a default."""

    model_config = ConfigDict(frozen=True)

    payments_table_name: str = Field(min_length=1)
    event_bus_name: str = Field(min_length=1)
    payment_limit_cents: int = Field(ge=0)


class ChargeConfig(PaymentConfig):
    """The charge function reads tokens too, and knows when a message is on its last receive."""

    payment_tokens_table_name: str = Field(min_length=1)
    # The payment queue's maxReceiveCount: the receive that would park a message fails its order first.
    payment_max_receives: int = Field(ge=1)


def _read(model: type[PaymentConfig], environ: Mapping[str, str]) -> PaymentConfig:
    values = {name: environ.get(name.upper()) for name in model.model_fields}
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        wrong = ", ".join(
            str(e["loc"][0]).upper() for e in error.errors(include_input=False, include_url=False)
        )
        raise RuntimeError(f"payment function misconfigured: check {wrong}") from None


@lru_cache(maxsize=1)
def charge_config() -> ChargeConfig:
    config = _read(ChargeConfig, os.environ)
    assert isinstance(config, ChargeConfig)
    return config


@lru_cache(maxsize=1)
def refund_config() -> PaymentConfig:
    return _read(PaymentConfig, os.environ)
