"""An execution's history as the trace tree reads it: GetExecutionHistory's events, or None."""

from __future__ import annotations

from typing import Any

from localcloud.core import backends as aws


def execution_history(execution_arn: str) -> list[dict[str, Any]] | None:
    """The events of one execution (Standard or Express, as localcloud keeps both); None if it is gone."""
    arn = aws.Arn.parse(execution_arn)
    try:
        with aws.BACKENDS:
            output = aws.stepfunctions_backend(arn.account, arn.region).get_execution_history(execution_arn)
    except Exception:  # deleted with its state machine, or never known: the tree shows the execution only
        return None
    events = output.get("events") if isinstance(output, dict) else None
    return list(events) if events else None
