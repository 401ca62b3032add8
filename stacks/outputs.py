"""Stack outputs: what a user or a test needs to find, under stable, meaningful keys."""

from __future__ import annotations

from aws_cdk import CfnOutput
from constructs import Construct


def add_outputs(scope: Construct, outputs: dict[str, tuple[str, str]]) -> None:
    """One CfnOutput per key: {key: (value, description)}."""
    for key, (value, description) in outputs.items():
        CfnOutput(scope, key, value=value, description=description)
