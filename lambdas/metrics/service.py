"""Which metrics an event of the app counts as; no AWS and no Powertools here, only the Emitter port."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

UNKNOWN = "unknown"

# Business counts by (source, DetailType). The strings repeat the contracts' (a unit test keeps them in
# step) so that this function, which sees every event of the app, does not import pydantic to count.
BUSINESS_COUNTS: dict[tuple[str, str], str] = {
    ("myapp.userservice", "user_signup"): "UsersSignedUp",
    ("myapp.orders", "OrderPlaced"): "OrdersPlaced",
    ("myapp.orders", "OrderCompleted"): "OrdersCompleted",
    ("myapp.orders", "OrderFailed"): "OrdersFailed",
    ("OnlineTrial", "TrialRequested"): "TrialsRequested",
    ("OnlineTrial", "TrialAssigned"): "TrialsAssigned",
    ("OnlineTrial", "TrialAssignmentFailed"): "TrialAssignmentsFailed",
    ("OnlineTrial", "TrialExpired"): "TrialsExpired",
}


@dataclass(frozen=True)
class Count:
    """A count of 1 of `name`, with exactly these dimensions."""

    name: str
    dimensions: dict[str, str] = field(default_factory=dict)


class Emitter(Protocol):
    """Writes one metric, with its own dimensions only."""

    def count(self, metric: Count) -> None: ...


def counts_for(event: Mapping[str, Any]) -> list[Count]:
    """`Events` by source and detailType for every event, plus the business count the event stands for."""
    source = _text(event.get("source"))
    detail_type = _text(event.get("detail-type"))
    counts = [Count("Events", {"source": source, "detailType": detail_type})]
    business = BUSINESS_COUNTS.get((source, detail_type))
    if business is not None:
        counts.append(Count(business))
    return counts


def record_event(event: Mapping[str, Any], *, emitter: Emitter) -> list[Count]:
    counts = counts_for(event)
    for metric in counts:
        emitter.count(metric)
    return counts


def _text(value: Any) -> str:
    # A dimension value must be a non-empty string; an event without one is still counted, as unknown.
    return value if isinstance(value, str) and value else UNKNOWN
