"""Trial requests: stores a new trial row and reads one back; no AWS here, only the TrialStore port."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shared.contracts.trials import RequestTrial, TrialStatus


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


class TrialStore(Protocol):
    """The trials table."""

    def put_new(self, trial: Trial) -> None:
        """Stores a trial that does not exist yet."""
        ...

    def get(self, trial_id: str) -> Trial | None: ...


def request_trial(
    request: RequestTrial,
    *,
    store: TrialStore,
    now: int,
    duration_seconds: int,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Trial:
    """Stores the trial as REQUESTED; its stream INSERT becomes `TrialRequested`, its TTL `TrialExpired`."""
    trial = Trial(
        trial_id=new_id(),
        lead_id=request.leadId,
        type=request.type,
        requested_at=now,
        status="REQUESTED",
        expires_at=now + duration_seconds,
    )
    store.put_new(trial)
    return trial


def find_trial(trial_id: str, *, store: TrialStore) -> Trial | None:
    """The trial, or None when there is no such row (never was, or TTL removed it)."""
    return store.get(trial_id)
