"""The order-status function's settings: where IoT Core's data plane is, when it is not looked up."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class Settings:
    # A data endpoint the stack names (unset on AWS: the function asks IoT Core for its ATS endpoint).
    iot_data_endpoint: str | None
    # The SDK's endpoint override (localcloud sets it): IoT data calls go there too.
    aws_endpoint_url: str | None


def load() -> Settings:
    return from_environment(Settings)
