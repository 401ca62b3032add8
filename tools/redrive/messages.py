"""Reading a DLQ without losing anything: messages are hidden briefly while read, then made visible again.

A DLQ has no consumer and no RedrivePolicy of its own, so a receive only raises a message's
ApproximateReceiveCount (nothing parks it further). Each read hides the messages it returns for
HIDE_SECONDS (a paced redrive: until its run would end), so one pass sees each message once; what
the tool does not delete is made visible again at once (ChangeMessageVisibility 0). If the tool is
killed mid-way, they reappear by themselves when that time is up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tools.redrive.records import Parked

HIDE_SECONDS = 60  # long enough for a pass over a DLQ and a redrive of what it returned
MAX_HIDE_SECONDS = 43200  # SQS's longest visibility timeout
BATCH = 10  # SQS's most per ReceiveMessage / ChangeMessageVisibilityBatch


def depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) as SQS counts them (approximate)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def hide_for(limit: int, rate: float | None) -> int:
    """How long a redrive hides what it read: past the end of its run at `rate`, within SQS's 12 hours."""
    if not rate:
        return HIDE_SECONDS
    return min(MAX_HIDE_SECONDS, HIDE_SECONDS + int(limit / rate))


def read(sqs: Any, url: str, *, limit: int, hide: int = HIDE_SECONDS) -> list[Parked]:
    """Up to `limit` messages, each once, hidden for `hide` seconds; the caller restores or deletes them."""
    seen: dict[str, Parked] = {}
    while len(seen) < limit:
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(BATCH, limit - len(seen)),
            VisibilityTimeout=hide,
            WaitTimeSeconds=1,  # long polling asks every SQS server: an empty answer means none visible
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        batch = [Parked.from_sqs(message) for message in response.get("Messages") or []]
        if not batch:
            break
        for message in batch:
            seen[message.message_id] = message
    return list(seen.values())


def restore(sqs: Any, url: str, messages: Iterable[Parked]) -> list[str]:
    """Makes the messages visible again; returns the errors of any that could not be (they reappear later)."""
    pending = list(messages)
    errors: list[str] = []
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        entries = [
            {"Id": str(index), "ReceiptHandle": message.receipt_handle, "VisibilityTimeout": 0}
            for index, message in enumerate(chunk)
        ]
        response = sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
        errors += [
            f"{failed.get('Code')}: {failed.get('Message')}" for failed in response.get("Failed") or []
        ]
    return errors


def delete(sqs: Any, url: str, message: Parked) -> None:
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message.receipt_handle)
