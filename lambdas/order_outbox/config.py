"""The outbox's settings: its environment, read and checked once at INIT, with no defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class Config:
    event_bus_name: str


def load(environ: Mapping[str, str] = os.environ) -> Config:
    return from_environment(Config, environ)
