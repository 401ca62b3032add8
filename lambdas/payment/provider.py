"""The PaymentProvider port, its outcomes, and a deterministic simulated provider."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

DECLINED_TOKEN = "tok_declined"  # always declined
TRANSIENT_TOKEN = "tok_transient"  # fails transiently on attempt 0, succeeds from attempt 1


@dataclass(frozen=True)
class Charge:
    """Money taken: the provider's charge id and the amount."""

    charge_id: str
    amount_cents: int


class PaymentDeclined(Exception):
    """The provider refused the charge for good (card declined, over the limit)."""


class PaymentTransientError(Exception):
    """The provider could not answer now; the same request may succeed later."""


class PaymentProvider(Protocol):
    """A payment provider. Both calls are idempotent per order (charge) and per charge (refund), as
    real providers are with an idempotency key: repeating one never moves money twice."""

    def charge(
        self, order_id: str, amount_cents: int, currency: str, payment_token: str, attempt: int
    ) -> Charge: ...

    def refund(self, order_id: str, charge_id: str, amount_cents: int) -> str:
        """Returns the refund id."""
        ...


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


class SimulatedPaymentProvider:
    """Decides from the request alone, so tests and demos are repeatable:
    declined over `limit_cents` or for `tok_declined`; transient for `tok_transient` on attempt 0;
    otherwise charged, with charge id `ch_` + sha256(orderId)[:16]."""

    def __init__(self, *, limit_cents: int) -> None:
        self.limit_cents = limit_cents

    def charge(
        self, order_id: str, amount_cents: int, currency: str, payment_token: str, attempt: int
    ) -> Charge:
        if payment_token == DECLINED_TOKEN:
            raise PaymentDeclined("card declined by the issuer")
        if amount_cents > self.limit_cents:
            raise PaymentDeclined(
                f"amount {amount_cents} {currency} cents is over the limit of {self.limit_cents}"
            )
        if payment_token == TRANSIENT_TOKEN and attempt == 0:
            raise PaymentTransientError("payment provider unavailable, try again")
        return Charge(charge_id=f"ch_{_digest(order_id)}", amount_cents=amount_cents)

    def refund(self, order_id: str, charge_id: str, amount_cents: int) -> str:
        return f"re_{_digest(charge_id)}"
