"""The stream's two ports on AWS: EventBridge PutEvents and the SQS queue of parked records."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from trial_stream.service import Entry


class EventBridgePublisher:
    """PutEvents with per-entry results; a failed request counts as every entry failing, to be retried."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def put_events(self, entries: Sequence[Entry]) -> list[str | None]:
        try:
            response = self._client.put_events(Entries=list(entries))
        except ClientError as error:
            reason = f"{error.response['Error'].get('Code')}: {error.response['Error'].get('Message')}"
            return [reason] * len(entries)
        except BotoCoreError as error:  # connection and timeout errors, after botocore's own retries
            return [f"{type(error).__name__}: {error}"] * len(entries)
        return [
            f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}" if result.get("ErrorCode") else None
            for result in response["Entries"]
        ]


class SqsParkingLot:
    """Sends `{"reason", "record"}` to the parked-records queue."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def park(self, reason: str, record: Mapping[str, Any]) -> None:
        self._client.send_message(
            QueueUrl=self._queue_url, MessageBody=json.dumps({"reason": reason, "record": record})
        )
