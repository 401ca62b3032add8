"""The order API's settings: its environment, read and checked once at INIT, with no defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class ConfigError(RuntimeError):
    """The function's environment lacks a setting or holds an unusable one (names only, no values)."""


@dataclass(frozen=True, kw_only=True)
class Config:
    orders_table: str
    payment_tokens_table: str
    inventory_table: str
    idempotency_table: str
    idempotency_expiry_seconds: int
    # How long a payment token is kept (the PaymentTokens table's TTL): the payment must happen before.
    payment_token_ttl_seconds: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        read = _Reader(environ)
        config = cls(
            orders_table=read.text("ORDERS_TABLE_NAME"),
            payment_tokens_table=read.text("PAYMENT_TOKENS_TABLE_NAME"),
            inventory_table=read.text("INVENTORY_TABLE_NAME"),
            idempotency_table=read.text("IDEMPOTENCY_TABLE_NAME"),
            idempotency_expiry_seconds=read.seconds("IDEMPOTENCY_EXPIRY_SECONDS"),
            payment_token_ttl_seconds=read.seconds("PAYMENT_TOKEN_TTL_SECONDS"),
        )
        read.check()
        return config


class _Reader:
    """Reads settings, collecting every problem so one error names them all."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._problems: list[str] = []

    def text(self, name: str) -> str:
        value = self._environ.get(name, "")
        if not value:
            self._problems.append(f"{name} is missing")
        return value

    def seconds(self, name: str) -> int:
        value = self.text(name)
        if value and not (value.isdigit() and int(value) > 0):
            self._problems.append(f"{name} is not a positive whole number of seconds")
            return 0
        return int(value) if value else 0

    def check(self) -> None:
        if self._problems:
            raise ConfigError("; ".join(self._problems))
