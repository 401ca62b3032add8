"""The metrics function's settings: read from the environment once, at INIT, and checked there.

A dataclass, not a pydantic model: this function sees every event of the app and imports no pydantic.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricsConfig:
    """What Powertools' EMF needs: the namespace every business metric goes to, and the service name
    it adds as a dimension. Powertools would fall back to defaults; this function does not."""

    namespace: str
    service_name: str


VARIABLES = {"namespace": "POWERTOOLS_METRICS_NAMESPACE", "service_name": "POWERTOOLS_SERVICE_NAME"}


def load(environ: Mapping[str, str] = os.environ) -> MetricsConfig:
    missing = [variable for variable in VARIABLES.values() if not environ.get(variable, "").strip()]
    if missing:
        raise RuntimeError(f"metrics function misconfigured: check {', '.join(missing)}")
    return MetricsConfig(**{field: environ[variable] for field, variable in VARIABLES.items()})
