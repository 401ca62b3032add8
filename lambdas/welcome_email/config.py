"""The welcome-email function's settings: read from the environment once, at INIT, and checked there."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.settings import from_environment

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True, kw_only=True)
class WelcomeEmailConfig:
    # The verified SES identity the email is sent from.
    sender_email: str
    idempotency_table_name: str
    # How long a handled event id is remembered: longer than EventBridge's and Lambda's retry windows.
    idempotency_expiry_seconds: int

    def __post_init__(self) -> None:
        problems = []
        if not _EMAIL.match(self.sender_email):
            problems.append("SENDER_EMAIL is not an e-mail address")
        if self.idempotency_expiry_seconds < 3600:
            problems.append("IDEMPOTENCY_EXPIRY_SECONDS must be at least 3600")
        if problems:
            raise ValueError("; ".join(problems))


def load(environ: Mapping[str, str] = os.environ) -> WelcomeEmailConfig:
    return from_environment(WelcomeEmailConfig, environ)
