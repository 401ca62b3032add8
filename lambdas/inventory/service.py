"""Reserve, commit (reserved -> sold) and release an order's stock; no AWS here, only the StockStore port."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.contracts.orders import MAX_LINES, SKU_PATTERN, UUID_PATTERN
from shared.validation import describe


class InvalidInventoryRequest(ValueError):
    """The workflow sent something this function does not understand; the message says what."""


class OutOfStock(Exception):
    """A line cannot be reserved: not enough available, or no such SKU. Nothing was reserved.

    The class name is the contract: Lambda reports it as errorType, which the workflow catches."""


class NothingReserved(Exception):
    """Commit found no reservation for the order (never reserved, or released): nothing to sell."""


class InsufficientStock(Exception):
    """Raised by a StockStore: this SKU cannot supply this quantity."""

    def __init__(self, sku: str, requested: int) -> None:
        super().__init__(f"sku {sku}: requested {requested}")
        self.sku = sku
        self.requested = requested


class ReservationLine(BaseModel):
    """What inventory needs of an order line (the workflow passes whole lines: prices are ignored)."""

    model_config = ConfigDict(frozen=True)

    sku: str = Field(min_length=1, max_length=64, pattern=SKU_PATTERN)
    quantity: int = Field(ge=1, le=100)


class InventoryRequest(BaseModel):
    """The workflow's payload: `{"action": "reserve" | "commit" | "release", "orderId", "lines"}`."""

    model_config = ConfigDict(frozen=True)

    action: Literal["reserve", "commit", "release"]
    orderId: str = Field(pattern=UUID_PATTERN)
    # Commit and release read what was reserved from the reservation itself; lines matter to reserve.
    lines: list[ReservationLine] = Field(default_factory=list, max_length=MAX_LINES)

    @model_validator(mode="after")
    def _reserve_needs_lines(self) -> InventoryRequest:
        if self.action == "reserve" and not self.lines:
            raise ValueError("reserve needs at least one line")
        return self

    def quantities(self) -> dict[str, int]:
        """Quantity per SKU; repeated SKUs are added up (a transaction may touch an item only once)."""
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.sku] = totals.get(line.sku, 0) + line.quantity
        return totals


class StockStore(Protocol):
    """Stock levels and reservations, changed atomically."""

    def reserve(self, order_id: str, quantities: dict[str, int]) -> bool:
        """Takes every quantity from available to reserved, or nothing (InsufficientStock).
        False when this order already holds a reservation (nothing changed)."""
        ...

    def commit(self, order_id: str) -> bool:
        """Moves the order's reserved quantities to sold; False when already sold (nothing changed),
        NothingReserved when the order holds no reservation."""
        ...

    def release(self, order_id: str) -> bool:
        """Returns the order's reserved (or sold) quantities to available; False when it holds none."""
        ...


def parse_request(event: Any) -> InventoryRequest:
    try:
        return InventoryRequest.model_validate(event)
    except ValidationError as error:
        # Not chained: pydantic's own message, in a logged traceback, would repeat the input.
        raise InvalidInventoryRequest(f"invalid inventory request: {describe(error)}") from None


def handle(request: InventoryRequest, *, store: StockStore) -> dict[str, Any]:
    """Reserve: {"reserved": true, "orderId"} (also when already reserved), or OutOfStock.
    Commit: {"committed": true} when stock moved to sold, false when it had already.
    Release: {"released": true} when stock went back, {"released": false} when there was none held."""
    if request.action == "reserve":
        try:
            store.reserve(request.orderId, request.quantities())
        except InsufficientStock as error:
            raise OutOfStock(str(error)) from error
        return {"reserved": True, "orderId": request.orderId}
    if request.action == "commit":
        return {"committed": store.commit(request.orderId)}
    return {"released": store.release(request.orderId)}
