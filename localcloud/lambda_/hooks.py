"""Where moto runs a Lambda function, localcloud's runtime runs it instead.

Every invocation path of moto (the Invoke API, and the SNS, S3 and other triggers) ends in
`LambdaFunction._invoke_lambda`; the Invoke API passes `LambdaFunction.invoke` first. Functions
the runtime has code for run in worker processes; others keep moto's behaviour. Functions created
through the API with a zip get their code unzipped and registered, so `aws lambda create-function`
works as it does on AWS.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.core.patches import PatchSet
from localcloud.lambda_.runtime import Runtime, Throttled

# AWS returns the last 4 KB of the execution log in X-Amz-Log-Result.
LOG_RESULT_TAIL_BYTES = 4096


def too_many_requests(throttled: Throttled) -> Exception:
    """The Invoke API's 429 answer for a throttled invocation."""
    from moto.core.exceptions import JsonRESTError

    class TooManyRequestsException(JsonRESTError):
        code = 429

    error = TooManyRequestsException("TooManyRequestsException", "Rate Exceeded.")
    error.description = json.dumps(
        {
            "__type": "TooManyRequestsException",
            "message": "Rate Exceeded.",
            "Reason": throttled.reason,
            "Type": "User",
        }
    )
    return error


def _parse_body(body: Any) -> Any:
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8")
    if body is None or body == "":
        return {}  # Lambda hands an empty payload over as {}
    if not isinstance(body, str):
        return body
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        from moto.awslambda.exceptions import LambdaClientError

        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
        ) from exc


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


def lambda_patches(
    runtime: Runtime, *, invoke_async: Callable[[Any, Any], Any], functions_dir: Path
) -> PatchSet:
    """The patch set that routes moto's Lambda invocations to `runtime`.

    invoke_async(function, event): how `InvocationType=Event` is queued (Lambda's async path).
    functions_dir: where the code of functions created through the API is unzipped.
    """
    patches = PatchSet("lambda runtime")

    def invoke_lambda(original: Any) -> Any:
        def _invoke_lambda(function: Any, event: Any = None) -> tuple[str, bool, str]:
            if not runtime.handles(function):
                return original(function, event)
            try:
                result = runtime.invoke(function, {} if event is None else event)
            except Throttled as throttled:
                raise too_many_requests(throttled) from None
            return result.payload.decode("utf-8", errors="replace"), result.errored, result.log_text

        return _invoke_lambda

    def function_invoke(original: Any) -> Any:
        def invoke(function: Any, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
            if not runtime.handles(function):
                return original(function, body, request_headers, response_headers)
            invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
            if invocation_type == "DryRun":
                return b""  # AWS only validates the request; moto ran the function
            event = _parse_body(body)
            if invocation_type == "Event":
                # AWS answers 202 with an empty body and reports errors only in the function's logs.
                invoke_async(function, event)
                return b""
            try:
                result = runtime.invoke(function, event)
            except Throttled as throttled:
                raise too_many_requests(throttled) from None
            response_headers["x-amz-executed-version"] = str(function.version)
            if result.function_error is not None:
                # moto says "Handled"; AWS says "Unhandled" for errors the function did not catch.
                response_headers["x-amz-function-error"] = result.function_error
            tail = result.log_text.encode("utf-8")[-LOG_RESULT_TAIL_BYTES:]
            response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
            return result.payload

        return invoke

    def simple_backend_invoke(original: Any) -> Any:
        from moto.awslambda.models import LambdaBackend

        def invoke(
            backend: Any, name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any
        ) -> Any:
            # moto without Docker echoes payloads; functions localcloud can run go the real way.
            try:
                function = backend.get_function(name, qualifier)
            except Exception:
                function = None
            if function is not None and runtime.handles(function):
                return LambdaBackend.invoke(backend, name, qualifier, body, headers, response_headers)
            return original(backend, name, qualifier, body, headers, response_headers)

        return invoke

    def registering(original: Any) -> Any:
        def create_or_update(backend: Any, *args: Any, **kwargs: Any) -> Any:
            function = original(backend, *args, **kwargs)
            _register_zip(runtime, function, functions_dir)
            return function

        return create_or_update

    def watching_concurrency(original: Any) -> Any:
        def concurrency(backend: Any, function_name: str, *args: Any) -> Any:
            result = original(backend, function_name, *args)
            function = backend.get_function(function_name)
            runtime.set_reserved_concurrency(function.function_arn, function.reserved_concurrency)
            return result

        return concurrency

    why_run = "run the function's real handler in a worker process instead of moto's Docker or echo"
    patches.wrap("moto.awslambda.models:LambdaFunction._invoke_lambda", invoke_lambda, why=why_run)
    patches.wrap(
        "moto.awslambda.models:LambdaFunction.invoke",
        function_invoke,
        why="honour the invocation type (Event is queued, DryRun runs nothing) and answer as AWS does "
        "(FunctionError Unhandled, the log tail, 429 when throttled)",
    )
    patches.wrap(
        "moto.awslambda_simple.models:LambdaSimpleBackend.invoke", simple_backend_invoke, why=why_run
    )
    for name in ("create_function", "update_function_code"):
        patches.wrap(
            f"moto.awslambda.models:LambdaBackend.{name}",
            registering,
            why="a function created or updated through the API with a zip runs its own code",
        )
    for name in ("put_function_concurrency", "delete_function_concurrency"):
        patches.wrap(
            f"moto.awslambda.models:LambdaBackend.{name}",
            watching_concurrency,
            why="reserved concurrency comes out of the account's pool as soon as it is set",
        )
    return patches


def _register_zip(runtime: Runtime, function: Any, functions_dir: Path) -> None:
    """Unzips a Python function's zip into a directory of its own (by content) and runs it from there.

    A zip with no Python module in it has nothing to run (the deployer's placeholder, whose code
    it registers from cdk.out itself).
    """
    code = getattr(function, "code_bytes", b"") or b""
    if not code or not str(function.run_time or "").startswith("python"):
        return
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        if not any(name.endswith(".py") for name in archive.namelist()):
            return
        digest = hashlib.sha256(code).hexdigest()[:16]
        target = functions_dir / f"{function.function_name}-{digest}"
        if not target.is_dir():
            staging = target.with_suffix(".partial")
            archive.extractall(staging)
            staging.rename(target)
    runtime.register(function.function_arn, target)
