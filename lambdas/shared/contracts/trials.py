"""The online-trial events (source `OnlineTrial`) and the `POST /trials` request body."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.contracts import names
from shared.contracts.envelope import EventBridgeEvent
from shared.validation import describe

SOURCE = names.TRIALS

# NEEDS_ATTENTION: the stuck-trial sweep's verdict on a trial still REQUESTED past its deadline.
TrialStatus = Literal["REQUESTED", "ASSIGNED", "FAILED", "EXPIRED", "NEEDS_ATTENTION"]

# Canonical lowercase UUID text, as uuid4() prints it: the trial id is also an execution and stack name.
TRIAL_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# Printable text with at least one visible character: no control characters, not only spaces.
LEAD_ID_PATTERN = r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"
TRIAL_TYPE_PATTERN = r"^[A-Z0-9_-]+$"

TrialId = Annotated[str, Field(pattern=TRIAL_ID_PATTERN)]
LeadId = Annotated[str, Field(min_length=1, max_length=64, pattern=LEAD_ID_PATTERN)]
TrialType = Annotated[str, Field(min_length=1, max_length=16, pattern=TRIAL_TYPE_PATTERN)]
# Epoch seconds; strict, so "1700000000", 1.7e9 and True are rejected rather than coerced.
EpochSeconds = Annotated[int, Field(gt=0, strict=True)]


class RequestTrial(BaseModel):
    """The body of `POST /trials`: who asks for a trial, and of what."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    leadId: LeadId
    type: TrialType


class TrialEvent(BaseModel):
    """The detail every online-trial event carries; each subclass fixes its DetailType and status.

    Exactly these six fields: a producer cannot slip in more, and a consumer can rely on all of them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str]
    STATUS: ClassVar[TrialStatus]

    version: Literal["1.0"]
    trialId: TrialId
    leadId: LeadId
    type: TrialType
    requestedAt: EpochSeconds
    status: TrialStatus

    @classmethod
    def of(cls, *, trial_id: str, lead_id: str, trial_type: str, requested_at: int) -> Self:
        """The event for one trial, with this event's version and status filled in (and validated)."""
        detail: dict[str, Any] = {
            "version": "1.0",
            "trialId": trial_id,
            "leadId": lead_id,
            "type": trial_type,
            "requestedAt": requested_at,
            "status": cls.STATUS,
        }
        return cls.model_validate(detail)


class TrialRequested(TrialEvent):
    """A trial row was inserted: a lead asked for a trial environment."""

    DETAIL_TYPE: ClassVar[str] = names.TRIAL_REQUESTED
    STATUS: ClassVar[TrialStatus] = "REQUESTED"
    status: Literal["REQUESTED"]


class TrialAssigned(TrialEvent):
    """The assignment workflow gave the trial a warm environment."""

    DETAIL_TYPE: ClassVar[str] = names.TRIAL_ASSIGNED
    STATUS: ClassVar[TrialStatus] = "ASSIGNED"
    status: Literal["ASSIGNED"]


class TrialAssignmentFailed(TrialEvent):
    """The assignment workflow could not give the trial an environment."""

    DETAIL_TYPE: ClassVar[str] = names.TRIAL_ASSIGNMENT_FAILED
    STATUS: ClassVar[TrialStatus] = "FAILED"
    status: Literal["FAILED"]


class TrialExpired(TrialEvent):
    """DynamoDB's TTL removed the trial row: the trial is over."""

    DETAIL_TYPE: ClassVar[str] = names.TRIAL_EXPIRED
    STATUS: ClassVar[TrialStatus] = "EXPIRED"
    status: Literal["EXPIRED"]


class TrialNeedsAttention(TrialEvent):
    """The stuck-trial sweep gave the trial up: an operator must look at it.

    The six fields plus why, and the status it was in when it was given up on.
    """

    DETAIL_TYPE: ClassVar[str] = names.TRIAL_NEEDS_ATTENTION
    STATUS: ClassVar[TrialStatus] = "NEEDS_ATTENTION"
    status: Literal["NEEDS_ATTENTION"]
    reason: Annotated[str, Field(min_length=1, max_length=1000)]
    previousStatus: TrialStatus


TrialEventT = TypeVar("TrialEventT", bound=TrialEvent)

TRIAL_EVENTS: tuple[type[TrialEvent], ...] = (
    TrialRequested,
    TrialAssigned,
    TrialAssignmentFailed,
    TrialExpired,
    TrialNeedsAttention,
)


class InvalidTrialEvent(ValueError):
    """An event that breaks the trial contracts; the message names the event id and what is wrong."""


def parse_trial_event(event: Any, *accepted: type[TrialEventT]) -> EventBridgeEvent[TrialEventT]:
    """The EventBridge event with its typed detail, if it is one of `accepted`; else InvalidTrialEvent.

    The error names the event by its id (EventBridge's, not the sender's) and the broken fields with
    the rule each breaks, never a value the sender put in the event."""
    event_id = event.get("id") if isinstance(event, dict) else None
    source = event.get("source") if isinstance(event, dict) else None
    detail_type = event.get("detail-type") if isinstance(event, dict) else None
    model = next((m for m in accepted if (source, detail_type) == (m.SOURCE, m.DETAIL_TYPE)), None)
    if model is None:
        expected = ", ".join(m.DETAIL_TYPE for m in accepted)
        # Named only when it is one of the contract's own types: a sender's made-up value is not echoed.
        known = source == SOURCE and detail_type in {m.DETAIL_TYPE for m in TRIAL_EVENTS}
        got = f"{SOURCE}/{detail_type}" if known else "another source or detail-type"
        raise InvalidTrialEvent(f"event {event_id}: {got} is not one of {SOURCE}/{{{expected}}}")
    # The detail model is picked at run time, which mypy cannot follow through the generic's subscript.
    envelope: Any = EventBridgeEvent
    try:
        return cast("EventBridgeEvent[TrialEventT]", envelope[model].model_validate(event))
    except ValidationError as error:
        problems = describe(error, root="detail")
        # Not chained: pydantic's own message, in a logged traceback, would repeat the input.
        raise InvalidTrialEvent(f"{detail_type} event {event_id} is invalid: {problems}") from None
