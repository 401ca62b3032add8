"""Trial requests: stores a new trial row once per request key, reads one back; no AWS, only TrialStore."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from shared.contracts.trials import TRIAL_ID_PATTERN, RequestTrial, TrialStatus

# An Idempotency-Key: printable ASCII without spaces, as long as a uuid or a little longer.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{8,128}$"
STORE_ATTEMPTS = 3


@dataclass(frozen=True)
class Trial:
    """One row of the trials table."""

    trial_id: str
    lead_id: str
    type: str
    requested_at: int
    status: TrialStatus
    expires_at: int
    environment_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The API's representation: the table's attribute names, no empty fields."""
        body: dict[str, Any] = {
            "trialId": self.trial_id,
            "leadId": self.lead_id,
            "type": self.type,
            "requestedAt": self.requested_at,
            "status": self.status,
            "expiresAt": self.expires_at,
        }
        if self.environment_id is not None:
            body["environmentId"] = self.environment_id
        return body


@dataclass(frozen=True)
class RequestKey:
    """What makes two requests the same request: `key` names it (hashed, so it holds no lead id or
    caller), `fingerprint` is the request body's, to tell a retry from a key reused for another body."""

    key: str
    fingerprint: str
    # Per lead and type (no Idempotency-Key): a trial that FAILED does not hold the key, so the lead
    # can ask again; with a key, a retry answers what the key answered before, failed or not.
    per_lead: bool = False


@dataclass(frozen=True)
class Guard:
    """The stored record of a request key: the trial it created and the body it was created for."""

    trial_id: str
    fingerprint: str


@dataclass(frozen=True)
class Requested:
    """The trial a request stands for, and whether this call created it (False: a repeat)."""

    trial: Trial
    created: bool


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was used before for a different request body."""


class Contended(Exception):
    """The store met a concurrent write of the same request key that had not committed: try again."""


class RequestNotStored(RuntimeError):
    """The request key stayed contended for every attempt (concurrent identical requests)."""


class TrialStore(Protocol):
    """The trials table and its request keys."""

    def put_new(self, trial: Trial, *, request: RequestKey, now: int, replacing: str | None) -> Guard | None:
        """In one transaction: the trial row and its request key, unless the key is held by a live
        trial other than `replacing`. None when stored; else the guard that holds the key; raises
        Contended when a concurrent write of the key had not committed yet."""
        ...

    def get(self, trial_id: str) -> Trial | None:
        """The row, read consistently."""
        ...


def request_key(request: RequestTrial, *, caller: str, idempotency_key: str | None) -> RequestKey:
    """Per Idempotency-Key when the caller sends one (scoped to the caller), else per lead and type:
    a lead has one live trial of a type, however often the request is sent."""
    fingerprint = _digest(request.leadId, request.type)
    if idempotency_key is not None:
        return RequestKey(key=f"key#{_digest(caller, idempotency_key)}", fingerprint=fingerprint)
    return RequestKey(key=f"lead#{fingerprint}", fingerprint=fingerprint, per_lead=True)


def valid_idempotency_key(value: str) -> bool:
    return re.fullmatch(IDEMPOTENCY_KEY_PATTERN, value) is not None


def request_trial(
    request: RequestTrial,
    *,
    key: RequestKey,
    store: TrialStore,
    now: int,
    duration_seconds: int,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    pause: Callable[[float], None] = time.sleep,
) -> Requested:
    """Stores the trial as REQUESTED (its stream INSERT becomes `TrialRequested`, its TTL `TrialExpired`),
    or answers with the trial the same request created before, while that one lives (and, for a
    request per lead and type, has not FAILED)."""
    trial = Trial(
        trial_id=new_id(),
        lead_id=request.leadId,
        type=request.type,
        requested_at=now,
        status="REQUESTED",
        expires_at=now + duration_seconds,
    )
    replacing: str | None = None
    for attempt in range(STORE_ATTEMPTS):
        if attempt:
            pause(0.05 * attempt)
        try:
            guard = store.put_new(trial, request=key, now=now, replacing=replacing)
        except Contended:
            continue
        if guard is None:
            return Requested(trial, created=True)
        if guard.fingerprint != key.fingerprint:
            raise IdempotencyKeyReused("the Idempotency-Key was used for a different request")
        existing = store.get(guard.trial_id)
        if existing is not None and not (key.per_lead and existing.status == "FAILED"):
            return Requested(as_seen(existing, now=now), created=False)
        replacing = guard.trial_id  # its row is gone (deleted) or its trial failed: the key may move on
    raise RequestNotStored("the trial request could not be stored: the request key stayed contended")


def find_trial(trial_id: str, *, store: TrialStore, now: int) -> Trial | None:
    """The trial as of now, or None for an id that is not a trial id or names no row."""
    if re.fullmatch(TRIAL_ID_PATTERN, trial_id) is None:
        return None  # never sent to DynamoDB: an oversized key would be a 400 from it, and a 5xx here
    trial = store.get(trial_id)
    return None if trial is None else as_seen(trial, now=now)


def as_seen(trial: Trial, *, now: int) -> Trial:
    """The trial's status as a user sees it: EXPIRED from `expiresAt` on, although TTL removes the row
    up to a few days later."""
    return replace(trial, status="EXPIRED") if now >= trial.expires_at else trial


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
