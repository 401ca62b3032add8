"""The metrics function's settings: read from the environment once, at INIT, and checked there.

A dataclass, not a pydantic model: this function sees every event of the app and imports no pydantic.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    """What Powertools' EMF needs: the namespace every business metric goes to, and the service name
    it adds as a dimension. Powertools would fall back to defaults; this function does not."""

    powertools_metrics_namespace: str
    powertools_service_name: str

    def __post_init__(self) -> None:
        blank = [f.name.upper() for f in fields(self) if not str(getattr(self, f.name)).strip()]
        if blank:
            raise ValueError(f"{', '.join(blank)} is blank")


def load(environ: Mapping[str, str] = os.environ) -> MetricsConfig:
    return from_environment(MetricsConfig, environ)
