"""The welcome-email function's settings: read from the environment once, at INIT, and checked there."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class WelcomeEmailConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    # The verified SES identity the email is sent from.
    sender_email: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    idempotency_table_name: str = Field(min_length=1)
    # How long a handled event id is remembered: longer than EventBridge's and Lambda's retry windows.
    idempotency_expiry_seconds: int = Field(ge=3600)


def load(environ: Mapping[str, str] = os.environ) -> WelcomeEmailConfig:
    values = {name: environ.get(name.upper()) for name in WelcomeEmailConfig.model_fields}
    try:
        return WelcomeEmailConfig.model_validate(values)
    except ValidationError as error:
        wrong = ", ".join(
            str(e["loc"][0]).upper() for e in error.errors(include_input=False, include_url=False)
        )
        raise RuntimeError(f"welcome-email function misconfigured: check {wrong}") from None
