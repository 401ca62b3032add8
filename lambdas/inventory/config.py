"""The inventory function's settings: read from the environment once, at INIT, and checked there."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class InventoryConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    inventory_table_name: str = Field(min_length=1)


def load(environ: Mapping[str, str] = os.environ) -> InventoryConfig:
    try:
        return InventoryConfig.model_validate({"inventory_table_name": environ.get("INVENTORY_TABLE_NAME")})
    except ValidationError:
        raise RuntimeError("inventory function misconfigured: check INVENTORY_TABLE_NAME") from None
