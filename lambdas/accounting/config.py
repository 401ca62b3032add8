"""The accounting function's settings: read from the environment once, at INIT, and checked there."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class AccountingConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    ledger_table_name: str = Field(min_length=1)
    payments_table_name: str = Field(min_length=1)


def load(environ: Mapping[str, str] = os.environ) -> AccountingConfig:
    values = {name: environ.get(name.upper()) for name in AccountingConfig.model_fields}
    try:
        return AccountingConfig.model_validate(values)
    except ValidationError as error:
        wrong = ", ".join(
            str(e["loc"][0]).upper() for e in error.errors(include_input=False, include_url=False)
        )
        raise RuntimeError(f"accounting function misconfigured: check {wrong}") from None
