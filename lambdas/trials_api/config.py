"""The trials API's settings: its two tables and how long a trial lives."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class Settings:
    trials_table_name: str
    trial_requests_table_name: str
    trial_duration_seconds: int

    def __post_init__(self) -> None:
        if self.trial_duration_seconds < 60:
            raise ValueError("TRIAL_DURATION_SECONDS must be at least 60")


def load() -> Settings:
    return from_environment(Settings)
