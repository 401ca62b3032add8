"""AssignTrial's settings: the assignment state machine it starts."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class Settings:
    state_machine_arn: str


def load() -> Settings:
    return from_environment(Settings)
