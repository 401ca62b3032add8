"""What a fault-suite run sends and records: its scale, the catalogue, the orders and trials sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TOKEN_PREFIX = "tok_fzs"  # every order's token is this + its own hex: a leak is findable anywhere


@dataclass(frozen=True)
class Scale:
    """How big a run is."""

    name: str
    orders: int
    trials: int
    seed: int = 9_2026
    fault_rate: float = 0.10  # handler exceptions
    throttle_rate: float = 0.05
    duplicate_rate: float = 0.10  # every rule, queue and stream delivers twice this often
    failed_entry_rate: float = 0.05  # PutEvents entries failing with InternalFailure
    outage_seconds: float = 5.0  # the payment function errors for this long, then recovers
    outage_invocations: int | None = None  # or: for this many invocations (a short outage)
    final_wait_seconds: float = 240.0  # for orders to become final after the load (heartbeats: 60 s here)
    forged: int = 4  # forged OrderCompleted / PaymentCharged, each
    settle_seconds: float = 600.0
    clients: int = 8


FULL = Scale("full", orders=200, trials=30)
# The reduced run's outage is 3 failed invocations: what the mapping's retries absorb, so the run stays
# short; the full run's 5 s window also sends messages to the DLQ, and waits for the heartbeats.
REDUCED = Scale(
    "reduced",
    orders=20,
    trials=5,
    outage_seconds=2.0,
    outage_invocations=3,
    forged=2,
    settle_seconds=60.0,
    final_wait_seconds=30.0,
)


@dataclass(frozen=True)
class Sku:
    sku: str
    price_cents: int
    initial: int


# The catalogue the run stocks: a scarce item (out-of-stock rejections) and a dear one (declined
# above the simulated provider's €1,000 limit once two are bought).
CATALOGUE = (
    Sku("FZ-BOOK", 1250, 100_000),
    Sku("FZ-MUG", 899, 100_000),
    Sku("FZ-SCARCE", 2000, 3),
    Sku("FZ-LUXE", 60_000, 100_000),
)
UNKNOWN_SKU = "FZ-NOSUCH"
FINAL = {"COMPLETED", "FAILED", "REJECTED", "NEEDS_ATTENTION"}


@dataclass
class SentOrder:
    """One order as the driver sent it, and what the API answered."""

    key: str  # its Idempotency-Key
    token: str
    lines: list[dict[str, Any]]
    intent: str  # normal | declined | scarce | unknown-sku
    status: int = 0  # the final HTTP answer
    order_id: str | None = None
    attempts: int = 0


@dataclass
class SentTrial:
    lead_id: str
    status: int = 0
    trial_id: str | None = None
    expire: bool = False  # its time is made up during the run


@dataclass
class Run:
    """What the driver did, for the invariants and the table."""

    scale: Scale
    orders: list[SentOrder] = field(default_factory=list)
    trials: list[SentTrial] = field(default_factory=list)
    body_style: str = "target"  # target (server prices, caller identity) | legacy (client prices)
    faults: list[dict[str, Any]] = field(default_factory=list)  # as localcloud listed them, with hits
    poison_messages: int = 0
    malformed_entries: int = 0
    replayed: dict[str, str] = field(default_factory=dict)  # order id -> its (final) status when replayed
    aged: list[str] = field(default_factory=list)  # stuck orders whose deadline the suite moved to the past
    forged_orders: list[str] = field(default_factory=list)  # forged OrderCompleted + PaymentCharged
    forged_trials: list[str] = field(default_factory=list)  # forged TrialExpired (live trials)
    schedules_fired: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # per phase: "ok" or why not
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def tokens(self) -> set[str]:
        return {order.token for order in self.orders}
