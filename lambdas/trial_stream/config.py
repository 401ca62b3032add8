"""The trial stream's settings: the bus it publishes to and the queue of records it parks."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class Settings:
    event_bus_name: str
    parked_queue_url: str


def load() -> Settings:
    return from_environment(Settings)
