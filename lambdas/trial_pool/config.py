"""The trial pool's settings: the two tables a claim reads and writes."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class Settings:
    pool_table_name: str
    trials_table_name: str


def load() -> Settings:
    return from_environment(Settings)
