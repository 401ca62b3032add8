"""Lambda entry point: every event of the app becomes EMF counts (the only source of business metrics)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from metrics.adapters import EmfEmitter
from metrics.config import load
from metrics.service import record_event
from shared import correlation

config = load()  # fails the INIT, naming the variable, rather than counting under a default namespace
logger = Logger()
emitter = EmfEmitter()


@logger.inject_lambda_context(correlation_id_path=correlation.EVENTBRIDGE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[str]]:
    counts = record_event(event, emitter=emitter)
    logger.debug("Event counted", extra={"metrics": [c.name for c in counts]})
    return {"metrics": [c.name for c in counts]}
