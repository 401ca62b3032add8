"""Direct access to moto's backends from inside the localcloud process, by ARN."""

from __future__ import annotations

import _thread
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


class BackendLock(_thread.RLock):  # type: ignore[misc]
    # The C lock's own methods, which threading.Condition uses too (no stubs declare them).
    _is_owned: Any
    _release_save: Any
    _acquire_restore: Any

    """One lock around moto's backends, which are not thread-safe.

    Every request moto serves and every change localcloud makes to a backend holds it; it is
    reentrant (the C lock itself: entering it is on every request's path). Whoever then waits for
    something slow (a handler in a worker process, a synchronous execution) lets go of it
    meanwhile with `released()`, as Python's own GIL is let go around I/O: the lock guards state,
    never a wait.
    """

    @property
    def held(self) -> bool:
        """Whether the calling thread holds the lock."""
        return bool(self._is_owned())

    @contextmanager
    def released(self) -> Iterator[None]:
        """Lets go of the lock for the block if this thread holds it, then takes it back as it was."""
        if not self._is_owned():
            yield
            return
        # What threading.Condition does around a wait: let go of every level, then restore them.
        state = self._release_save()
        try:
            yield
        finally:
            self._acquire_restore(state)


BACKENDS = BackendLock()


@dataclass(frozen=True)
class Arn:
    """The parts of an ARN localcloud routes on."""

    service: str
    region: str
    account: str
    resource: str  # everything after the account, e.g. "function:name" or "event-bus/name"

    @classmethod
    def parse(cls, arn: str) -> Arn:
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            raise ValueError(f"not an ARN: {arn!r}")
        return cls(service=parts[2], region=parts[3], account=parts[4], resource=parts[5])

    @property
    def name(self) -> str:
        """The resource name: the last segment after ':' or '/' (queue, topic, function, bus...)."""
        tail = self.resource.split("/", 1)[1] if "/" in self.resource else self.resource
        return tail.split(":")[1] if tail.startswith(("function:", "stateMachine:")) else tail


def lambda_backend(account: str, region: str) -> Any:
    """The backend holding functions: moto keeps them elsewhere when Docker is off, so ask moto."""
    from moto.awslambda.utils import get_backend

    return get_backend(account, region)


def sqs_backend(account: str, region: str) -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[account][region]


def sns_backend(account: str, region: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[account][region]


def events_backend(account: str, region: str) -> Any:
    from moto.events.models import events_backends

    return events_backends[account][region]


def logs_backend(account: str, region: str) -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[account][region]


def stepfunctions_backend(account: str, region: str) -> Any:
    """The backend that runs executions (moto's ASL interpreter) once localcloud has enabled it."""
    from moto.stepfunctions.responses import get_backend

    return get_backend(account, region)


def send_to_queue(
    queue_arn: str, body: str, *, attributes: dict[str, Any] | None = None, **kwargs: Any
) -> str:
    """Sends a message to an SQS queue by ARN; returns the message id."""
    arn = Arn.parse(queue_arn)
    with BACKENDS:
        message = sqs_backend(arn.account, arn.region).send_message(
            queue_name=arn.resource, message_body=body, message_attributes=attributes or {}, **kwargs
        )
    return str(message.id)


def publish_to_topic(topic_arn: str, message: str, *, subject: str | None = None) -> str:
    arn = Arn.parse(topic_arn)
    with BACKENDS:
        return str(
            sns_backend(arn.account, arn.region).publish(message=message, arn=topic_arn, subject=subject)
        )


def string_attributes(values: dict[str, Any]) -> dict[str, Any]:
    """SQS message attributes as moto's backend takes them (all strings here)."""
    return {key: {"DataType": "String", "StringValue": str(value)} for key, value in values.items()}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
