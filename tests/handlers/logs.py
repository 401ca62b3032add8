"""The JSON log lines a handler writes, caught as Powertools formats them at the moment of logging."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def log_lines(logger: Any) -> Iterator[list[dict[str, Any]]]:
    """Every line `logger` (a Powertools Logger) writes inside the block, parsed, in order."""
    lines: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    keep = Keep()
    keep.setFormatter(logger.registered_formatter)  # its keys (correlation_id...) as they are now
    logger.addHandler(keep)
    try:
        yield lines
    finally:
        logger.removeHandler(keep)


def correlation_ids(lines: list[dict[str, Any]]) -> list[Any]:
    """The correlation id of each line (None where a line has none)."""
    return [line.get("correlation_id") for line in lines]
