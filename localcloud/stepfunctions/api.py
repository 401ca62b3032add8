"""The Step Functions API where moto's differs from AWS's: names, SendTaskFailure, DescribeExecution,
and StartSyncExecution, which moto does not have."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from localcloud.core.backends import BACKENDS
from localcloud.core.patches import PatchSet

if TYPE_CHECKING:
    from localcloud.stepfunctions.executions import Executions

SYNC_URL_BASE = r"https?://sync-states\.(.+)\.amazonaws.com"


def api_patches(executions: Executions) -> PatchSet:
    from moto.stepfunctions.parser.backend.execution import Execution as ParserExecution

    patches = PatchSet("stepfunctions api")

    def uuid_names(original: Any) -> Any:
        def start_execution(
            backend: Any,
            state_machine_arn: str,
            name: str | None = None,
            execution_input: str | None = None,
            trace_header: str | None = None,
        ) -> Any:
            return original(
                backend, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
            )

        return start_execution

    def send_task_failure(response: Any) -> Any:
        from moto.core.responses import EmptyResult

        response.stepfunction_backend.send_task_failure(
            response._get_param("taskToken"),
            error=response._get_param("error"),
            cause=response._get_param("cause"),
        )
        return EmptyResult()

    def mending(original: Any) -> Any:
        def describe_execution(response: Any) -> Any:
            result = original(response)
            execution = response.stepfunction_backend.describe_execution(response._get_param("executionArn"))
            if isinstance(execution, ParserExecution):
                _mend_describe_execution(result.result, execution)
            return result

        return describe_execution

    def start_sync_execution(response: Any) -> Any:
        return _start_sync_execution(response, executions)

    parser_backend = "moto.stepfunctions.parser.models:StepFunctionsParserBackend"
    handler = "moto.stepfunctions.responses:StepFunctionResponse"
    patches.wrap(
        f"{parser_backend}.start_execution",
        uuid_names,
        why="AWS names a nameless execution with a UUID; moto names it 'None', so the second nameless "
        "start of a state machine fails with ExecutionAlreadyExists",
    )
    patches.replace(f"{handler}.send_task_failure", send_task_failure, why="moto's handler drops `cause`")
    patches.wrap(
        f"{handler}.describe_execution",
        mending,
        why="moto's answer for an interpreted execution: string output unencoded, no stopDate on timeout",
    )
    patches.add(
        f"{handler}.start_sync_execution",
        start_sync_execution,
        why="moto has no StartSyncExecution (404 'Not yet implemented')",
    )
    patches.wrap(
        "moto.stepfunctions.urls:url_bases",
        lambda original: [*original, SYNC_URL_BASE],
        why="botocore sends StartSyncExecution to sync-states.<region>.amazonaws.com (its hostPrefix)",
    )
    patches.wrap(
        "moto.backend_index:backend_url_patterns",
        lambda original: [*original, ("stepfunctions", re.compile(SYNC_URL_BASE))],
        why="moto routes no request to the sync-states host",
    )
    return patches


def _start_sync_execution(response: Any, executions: Executions) -> Any:
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    backend = response.stepfunction_backend
    if not isinstance(backend, StepFunctionsParserBackend):
        raise JsonRESTError(
            "UnsupportedOperation",
            "StartSyncExecution needs moto's ASL interpreter (stepfunctions.execute_state_machine)",
        )
    arn = response._get_param("stateMachineArn")
    machine = backend.describe_state_machine(arn)
    # moto keeps the type in `type`; its `sm_type`, which the interpreter is given, is always STANDARD.
    if getattr(machine, "type", "STANDARD") != "EXPRESS":
        raise JsonRESTError(
            "StateMachineTypeNotSupported", "This operation is not supported by this type of state machine"
        )
    execution = backend.start_execution(
        arn, response._get_param("name"), response._get_param("input", if_none="{}")
    )
    # The interpreter's thread runs the execution; this request waits for it, as AWS's does,
    # without holding the backend lock the execution needs.
    with BACKENDS.released():
        executions.wait(execution.exec_arn)
    return ActionResult(sync_execution_output(execution))


def _mend_describe_execution(described: dict[str, Any], execution: Any) -> None:
    """Corrects moto's DescribeExecution answer for an execution its interpreter ran."""
    # moto passes a string output through unencoded: an execution ending with "done" answers
    # `done`, not `"done"`, and a `.sync:2` parent fails parsing it.
    if "output" in described and isinstance(execution.output, str):
        described["output"] = json.dumps(execution.output)
    described.setdefault("inputDetails", {"included": True})
    # moto leaves out stopDate of a timed-out execution.
    if execution.stop_date is not None:
        described.setdefault("stopDate", execution.stop_date)


def sync_execution_output(execution: Any) -> dict[str, Any]:
    """StartSyncExecution's answer for a finished execution (camelCase, as the API has it)."""
    description = execution.to_describe_output()
    status = {"SUCCEEDED": "SUCCEEDED", "TIMED_OUT": "TIMED_OUT"}.get(execution.status, "FAILED")
    output: dict[str, Any] = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "startDate": execution.start_date,
        "stopDate": execution.stop_date or dt.datetime.now(tz=dt.UTC),
        "status": status,
        "input": description["input"],
        "inputDetails": {"included": True},
        # Express bills per 100 ms at the smallest memory size; nothing reads this locally.
        "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100},
    }
    if status == "SUCCEEDED":
        output["output"] = description["output"]
        output["outputDetails"] = {"included": True}
    if execution.error is not None:
        output["error"] = execution.error
    if execution.cause is not None:
        output["cause"] = execution.cause
    return output
