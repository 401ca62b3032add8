"""Rule patterns for CDK from the contracts' names (`lambdas/shared/contracts/names.py`)."""

from __future__ import annotations

from aws_cdk import aws_events as events

from lambdas.shared.contracts.names import Pattern


def event_pattern(pattern: Pattern) -> events.EventPattern:
    """The CDK pattern of a named one: its source and DetailTypes."""
    return events.EventPattern(source=[pattern.source], detail_type=list(pattern.detail_types))
