"""The stream's parking lot on AWS: the SQS queue of parked records (events go out by shared.eventbus)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class SqsParkingLot:
    """Sends `{"reason", "record"}` to the parked-records queue."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def park(self, reason: str, record: Mapping[str, Any]) -> None:
        self._client.send_message(
            QueueUrl=self._queue_url, MessageBody=json.dumps({"reason": reason, "record": record})
        )
