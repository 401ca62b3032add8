"""The inventory function's settings: read from the environment once, at INIT, and checked there."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class InventoryConfig:
    inventory_table_name: str


def load(environ: Mapping[str, str] = os.environ) -> InventoryConfig:
    return from_environment(InventoryConfig, environ)
