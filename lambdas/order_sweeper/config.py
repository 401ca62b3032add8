"""The order sweeper's settings: read from the environment once, at INIT, and checked there."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class SweeperConfig:
    orders_table_name: str
    orders_status_index_name: str
    # How long an order may stay in one non-final status: past the order workflow's own timeout
    # nothing will move it any more.
    stuck_after_seconds: int

    def __post_init__(self) -> None:
        if self.stuck_after_seconds < 60:
            raise ValueError("STUCK_AFTER_SECONDS must be at least 60")


def load(environ: Mapping[str, str] = os.environ) -> SweeperConfig:
    return from_environment(SweeperConfig, environ)
