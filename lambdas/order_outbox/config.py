"""The outbox's settings: its environment, read and checked once at INIT, with no defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class ConfigError(RuntimeError):
    """The function's environment lacks a setting (names only, no values)."""


@dataclass(frozen=True, kw_only=True)
class Config:
    event_bus_name: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        bus = environ.get("EVENT_BUS_NAME", "")
        if not bus:
            raise ConfigError("EVENT_BUS_NAME is missing")
        return cls(event_bus_name=bus)
