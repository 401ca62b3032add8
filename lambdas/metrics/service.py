"""Which metrics an event of the app counts as; no AWS and no Powertools here, only the Emitter port."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.contracts import names

UNKNOWN = "unknown"  # the event has no source or DetailType
OTHER = "other"  # it has one this app does not know

# Business counts by (source, DetailType), named from the contracts' names module, which imports no
# pydantic: this function sees every event of the app and only counts.
BUSINESS_COUNTS: dict[tuple[str, str], str] = {
    (names.USERS, names.USER_SIGNUP): "UsersSignedUp",
    (names.ORDERS, names.ORDER_PLACED): "OrdersPlaced",
    (names.ORDERS, names.ORDER_COMPLETED): "OrdersCompleted",
    (names.ORDERS, names.ORDER_FAILED): "OrdersFailed",
    (names.TRIALS, names.TRIAL_REQUESTED): "TrialsRequested",
    (names.TRIALS, names.TRIAL_ASSIGNED): "TrialsAssigned",
    (names.TRIALS, names.TRIAL_ASSIGNMENT_FAILED): "TrialAssignmentsFailed",
    (names.TRIALS, names.TRIAL_EXPIRED): "TrialsExpired",
    # TrialNeedsAttention is counted by the sweep itself, as TrialsNeedingAttention.
}
# Every (source, DetailType) the app knows: only these become dimension values. Anyone in the account
# may put `myapp.userservice` with any DetailType, and a dimension is kept and shown everywhere: an
# e-mail address put there must not become one (nor may made-up types multiply the metrics).
KNOWN_EVENTS: frozenset[tuple[str, str]] = frozenset(names.APP_EVENTS) | {
    ("aws.s3", "Object Created"),
    ("aws.cloudformation", "CloudFormation Stack Status Change"),
}
KNOWN_SOURCES: frozenset[str] = frozenset(source for source, _ in KNOWN_EVENTS)


@dataclass(frozen=True)
class Count:
    """A count of 1 of `name`, with exactly these dimensions."""

    name: str
    dimensions: dict[str, str] = field(default_factory=dict)


class Emitter(Protocol):
    """Writes one metric, with its own dimensions only."""

    def count(self, metric: Count) -> None: ...


def counts_for(event: Mapping[str, Any]) -> list[Count]:
    """`Events` by source and detailType for every event, plus the business count the event stands for.

    An event replayed from the bus archive (EventBridge adds `replay-name`) happened before and was
    counted then: it counts as `EventsReplayed` only, so a replay never inflates the business counts.
    """
    source, detail_type = _dimension_values(event.get("source"), event.get("detail-type"))
    if "replay-name" in event:
        return [Count("EventsReplayed", {"source": source, "detailType": detail_type})]
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


def _dimension_values(source: Any, detail_type: Any) -> tuple[str, str]:
    # A dimension value must be a non-empty string; an event without one is still counted, as unknown.
    if (source, detail_type) in KNOWN_EVENTS:
        return source, detail_type
    return (
        source if source in KNOWN_SOURCES else _unknown_or_other(source),
        _unknown_or_other(detail_type),
    )


def _unknown_or_other(value: Any) -> str:
    return OTHER if isinstance(value, str) and value else UNKNOWN
