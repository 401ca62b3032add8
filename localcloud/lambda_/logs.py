"""What an invocation writes to CloudWatch Logs: Lambda's platform lines and the REPORT line."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import uuid
from typing import Any

from localcloud.core.backends import BACKENDS, logs_backend
from localcloud.lambda_.sandbox import FunctionSpec, Outcome


def timeout_error(request_id: str, seconds: float) -> dict[str, Any]:
    return {
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after {seconds:.2f} seconds",
        "errorType": "Sandbox.Timedout",
    }


def error_payload(error: dict[str, Any]) -> bytes:
    return json.dumps(error).encode()


def report_line(
    spec: FunctionSpec, request_id: str, outcome: Outcome, init_ms: float | None, memory_mb: int
) -> str:
    # Lambda bills INIT of on-demand functions too, rounded up to the millisecond.
    billed = math.ceil(outcome.duration_ms + (init_ms or 0.0))
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {outcome.duration_ms:.2f} ms",
        f"Billed Duration: {billed} ms",
        f"Memory Size: {spec.memory} MB",
        f"Max Memory Used: {outcome.memory_mb or memory_mb} MB",
    ]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if outcome.timed_out:
        parts.append("Status: timeout")
    elif outcome.reset and outcome.error is not None:
        parts.append(f"Status: error\tError Type: {outcome.error['errorType']}")
    return "\t".join(parts) + "\t"


def ship_logs(spec: FunctionSpec, stream: str, lines: list[tuple[int, str]]) -> None:
    """Writes an invocation's log events to CloudWatch Logs (moto's backend, not through HTTP)."""
    parts = spec.arn.split(":")
    region, account = parts[3], parts[4]
    events = []
    last = 0
    for moment, message in lines:
        last = max(last, moment)  # CloudWatch wants events in order within one call
        events.append({"timestamp": last, "message": message})
    with BACKENDS:
        backend = logs_backend(account, region)
        backend.ensure_log_group(spec.log_group)
        backend.ensure_log_stream(spec.log_group, stream)
        backend.put_log_events(spec.log_group, stream, events)


def log_stream_name(version: str) -> str:
    today = dt.datetime.now(dt.UTC)
    return f"{today:%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_ms() -> int:
    return int(time.time() * 1000)
