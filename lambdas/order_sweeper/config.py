"""The order sweeper's settings: read from the environment once, at INIT, and checked there."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SweeperConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    orders_table_name: str = Field(min_length=1)
    orders_status_index_name: str = Field(min_length=1)
    # How long an order may stay in one non-final status: past the order workflow's own timeout
    # nothing will move it any more.
    stuck_after_seconds: int = Field(ge=60)


def load(environ: Mapping[str, str] = os.environ) -> SweeperConfig:
    values = {name: environ.get(name.upper()) for name in SweeperConfig.model_fields}
    try:
        return SweeperConfig.model_validate(values)
    except ValidationError as error:
        wrong = ", ".join(
            str(e["loc"][0]).upper() for e in error.errors(include_input=False, include_url=False)
        )
        raise RuntimeError(f"order sweeper misconfigured: check {wrong}") from None
