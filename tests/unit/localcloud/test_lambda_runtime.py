"""Tests for localcloud's in-process Lambda runtime and its hook into moto."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.server import ThreadedMotoServer

from localcloud import lambda_runtime
from localcloud.lambda_runtime import FunctionCode, InProcessRuntime, install, installed_runtime, uninstall

FIXTURES = Path(__file__).parent / "fixtures"
ALPHA = FIXTURES / "lambda_alpha"
BETA = FIXTURES / "lambda_beta"
ERRORS = FIXTURES / "lambda_errors"
BROKEN = FIXTURES / "lambda_broken"
REGION = "us-east-1"


def leaked_fixture_modules() -> list[str]:
    """Modules loaded from the fixtures' code dirs that are left in the host's sys.modules.

    Judged by file, not name: the host may hold unrelated modules of the same name (the CDK app's
    `app` module, loaded by the infra tests in the same session).
    """
    root = str(FIXTURES.resolve())
    return [
        name
        for name, module in list(sys.modules.items())
        if str(getattr(module, "__file__", None) or "").startswith(root)
    ]


def _zip() -> bytes:
    # moto needs some code; what runs comes from the registered code dir.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "")
    return buffer.getvalue()


def _role_arn(endpoint_url: str | None = None) -> str:
    iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint_url)
    try:
        return str(iam.get_role(RoleName="lambda-role")["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        policy = {"Version": "2012-10-17", "Statement": []}
        role = iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps(policy))
        return str(role["Role"]["Arn"])


def _create_function(
    client: Any,
    name: str,
    handler: str,
    *,
    env: dict[str, str] | None = None,
    timeout: int = 3,
    endpoint_url: str | None = None,
) -> str:
    response = client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=_role_arn(endpoint_url),
        Handler=handler,
        Code={"ZipFile": _zip()},
        Timeout=timeout,
        MemorySize=256,
        Environment={"Variables": env or {}},
    )
    return str(response["FunctionArn"])


def _invoke(client: Any, name: str, payload: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kwargs)
    body = response["Payload"].read()
    return response, (json.loads(body) if body else None)


def _log_messages(name: str, endpoint_url: str | None = None) -> list[str]:
    logs = boto3.client("logs", region_name=REGION, endpoint_url=endpoint_url)
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    return [event["message"] for event in events]


@pytest.fixture
def runtime() -> Iterator[InProcessRuntime]:
    runtime = InProcessRuntime()
    install(runtime)
    yield runtime
    uninstall()


@pytest.fixture
def aws(runtime: InProcessRuntime) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("lambda", region_name=REGION)


def test_handler_runs_with_the_function_environment_and_context(
    runtime: InProcessRuntime, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployed function whose code dir is registered, and a host-only variable
    monkeypatch.setenv("LOCALCLOUD_TEST_HOST_ONLY", "host")
    arn = _create_function(aws, "alpha", "app.handler", env={"GREETING": "hello"})
    runtime.register("alpha", ALPHA)
    host_env = dict(os.environ)

    # When it is invoked through the Lambda API
    response, body = _invoke(aws, "alpha", {"n": 1})

    # Then the real handler ran with Lambda's environment and context, not the host's
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert body["greeting"] == "hello"
    assert body["host_only"] is None
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "alpha"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/alpha"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == body["log_stream_name"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"] == str(ALPHA.resolve())
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    # No endpoint configured: under mock_aws boto3 calls are intercepted in-process.
    assert env["AWS_ENDPOINT_URL"] is None
    assert 2000 < body["remaining_ms"] <= 3000
    assert body["function_name"] == "alpha"
    assert body["function_version"] == "$LATEST"
    assert body["memory_limit_in_mb"] == "256"
    assert body["invoked_function_arn"] == arn
    assert body["log_group_name"] == "/aws/lambda/alpha"
    assert len(body["request_id"]) == 36
    # And the host's environment is back as it was
    assert dict(os.environ) == host_env


def test_functions_keep_their_own_same_named_modules(runtime: InProcessRuntime, aws: Any) -> None:
    # Given two functions whose code dirs both hold a module `common`
    _create_function(aws, "alpha", "app.handler")
    _create_function(aws, "beta", "app.handler")
    runtime.register("alpha", ALPHA)
    runtime.register("beta", BETA)

    # When they are invoked in turns
    _, alpha_first = _invoke(aws, "alpha")
    _, beta_first = _invoke(aws, "beta")
    _, alpha_second = _invoke(aws, "alpha")
    _, beta_second = _invoke(aws, "beta")

    # Then each sees its own module, a lazy import works warm too, and none leaks to the host
    assert alpha_first["common"] == alpha_second["common"] == "alpha"
    assert beta_first == beta_second == {"common": "beta"}
    assert alpha_first["lazy"] == alpha_second["lazy"] == "lazy-alpha"
    assert not leaked_fixture_modules()
    assert str(ALPHA.resolve()) not in sys.path
    assert not (ALPHA / "__pycache__").exists()


def test_first_call_is_a_cold_start_then_warm_until_reset(runtime: InProcessRuntime, aws: Any) -> None:
    # Given a registered function
    _create_function(aws, "alpha", "app.handler")
    runtime.register("alpha", ALPHA)
    function = _lambda_function("alpha")

    # When it is invoked twice, then reset and invoked again
    first = runtime.invoke(function, {"n": 1})
    second = runtime.invoke(function, {"n": 2})
    runtime.reset("alpha")
    third = runtime.invoke(function, {"n": 3})

    # Then INIT ran (and was measured) on the first and third calls only
    assert first.cold_start and not second.cold_start and third.cold_start
    assert first.init_duration_ms is not None and first.init_duration_ms > 0
    assert [r.json()["calls"] for r in (first, second, third)] == [1, 2, 1]
    assert first.json()["init_id"] == second.json()["init_id"] != third.json()["init_id"]
    assert "alpha INIT ran" in first.log_text and "alpha INIT ran" not in second.log_text
    assert "Init Duration:" in first.log_text and "Init Duration:" not in second.log_text
    # And the warm call shares the environment's log stream, the reset one does not
    assert first.json()["log_stream_name"] == second.json()["log_stream_name"]
    assert third.json()["log_stream_name"] != first.json()["log_stream_name"]


def test_configuration_change_starts_a_new_environment(runtime: InProcessRuntime, aws: Any) -> None:
    # Given a warm function
    _create_function(aws, "alpha", "app.handler", env={"GREETING": "before"})
    runtime.register("alpha", ALPHA)
    _invoke(aws, "alpha")

    # When its environment variables change
    aws.update_function_configuration(FunctionName="alpha", Environment={"Variables": {"GREETING": "after"}})
    _, body = _invoke(aws, "alpha")

    # Then the next invocation is a cold start that sees the new configuration, as in Lambda
    assert body["greeting"] == "after" and body["calls"] == 1


def test_registry_matches_arns_before_names() -> None:
    # Given one function registered by name and the same name registered by ARN in one region
    code = FunctionCode()
    code.register("orders", ALPHA)
    code.register("arn:aws:lambda:eu-west-1:111122223333:function:orders:live", BETA)

    def function(region: str, account: str, name: str) -> Any:
        return SimpleNamespace(region=region, account_id=account, function_name=name)

    # When functions are looked up
    in_eu = code.lookup(function("eu-west-1", "111122223333", "orders"))
    elsewhere = code.lookup(function(REGION, "123456789012", "orders"))
    unknown = code.lookup(function(REGION, "123456789012", "other"))

    # Then the ARN registration wins where it applies, the name elsewhere
    assert in_eu == BETA.resolve() and elsewhere == ALPHA.resolve() and unknown is None
    with pytest.raises(ValueError):
        code.register("arn:aws:sqs:us-east-1:123456789012:queue", ALPHA)
    with pytest.raises(NotADirectoryError):
        code.register("orders", FIXTURES / "missing")


def _lambda_function(name: str) -> LambdaFunction:
    from moto.awslambda.models import lambda_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    function = lambda_backends[DEFAULT_ACCOUNT_ID][REGION].get_function(name)
    assert isinstance(function, LambdaFunction)
    return function


def test_exception_becomes_an_unhandled_function_error(runtime: InProcessRuntime, aws: Any) -> None:
    # Given a function whose handler raises
    _create_function(aws, "boom", "app.boom")
    runtime.register("boom", ERRORS)

    # When it is invoked
    response, body = _invoke(aws, "boom", {"why": "bad input"}, LogType="Tail")

    # Then the caller gets AWS's error payload, marked Unhandled as AWS does
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom: bad input"
    assert len(body["requestId"]) == 36
    assert body["stackTrace"] and "in boom" in body["stackTrace"][0]
    assert "lambda_runtime.py" not in "".join(body["stackTrace"])
    # And the tail of the log says the same
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "[ERROR] ValueError: boom: bad input" in tail
    assert f"END RequestId: {body['requestId']}" in tail


def test_handler_running_past_its_timeout_is_reported_as_aws_does(
    runtime: InProcessRuntime, aws: Any
) -> None:
    # Given a function with a 1 s timeout whose handler never returns
    _create_function(aws, "slow", "app.slow", timeout=1)
    runtime.register("slow", ERRORS)
    function = _lambda_function("slow")

    # When it is invoked
    started = time.monotonic()
    result = runtime.invoke(function, {})
    elapsed = time.monotonic() - started

    # Then it is cut off at its timeout with Lambda's timeout error, and the environment is reset
    assert 1.0 <= elapsed < 2.0
    assert result.timed_out and result.function_error == "Unhandled"
    assert result.json() == {
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert f"{result.request_id} Task timed out after 1.00 seconds" in result.log_text
    assert "Status: timeout" in result.log_text
    after = runtime.invoke(function, {"quick": True})
    assert after.cold_start and after.json() == "quick"


def test_import_error_is_a_runtime_import_module_error(runtime: InProcessRuntime, aws: Any) -> None:
    # Given a function whose module imports something missing
    _create_function(aws, "broken", "app.handler")
    runtime.register("broken", BROKEN)

    # When it is invoked
    response, body = _invoke(aws, "broken")

    # Then INIT fails the way AWS reports it
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorMessage": (
            "Unable to import module 'app': No module named 'module_that_does_not_exist_anywhere'"
        ),
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    assert not leaked_fixture_modules()


def test_returns_are_serialized_as_lambda_does(runtime: InProcessRuntime, aws: Any) -> None:
    # Given functions returning None and Decimals
    _create_function(aws, "none", "app.returns_none")
    _create_function(aws, "decimal", "app.returns_decimal")
    runtime.register("none", ERRORS)
    runtime.register("decimal", ERRORS)

    # When they are invoked
    none_response = aws.invoke(FunctionName="none", Payload=b"{}")
    _, decimal_body = _invoke(aws, "decimal")

    # Then None is `null` and Decimals are numbers
    assert none_response["Payload"].read() == b"null"
    assert decimal_body == {"count": 3, "ratio": 0.5}


def test_output_reaches_cloudwatch_logs(runtime: InProcessRuntime, aws: Any) -> None:
    # Given two functions that print, log with `logging` and log with a Powertools Logger
    _create_function(aws, "alpha", "app.handler")
    _create_function(aws, "beta", "app.handler")
    runtime.register("alpha", ALPHA)
    runtime.register("beta", BETA)

    # When each is invoked, alpha twice
    _, first = _invoke(aws, "alpha", {"n": 1})
    _invoke(aws, "alpha", {"n": 2})
    _invoke(aws, "beta")

    # Then their log groups hold Lambda's lines around what the handlers wrote
    alpha = _log_messages("alpha")
    request_id = first["request_id"]
    assert alpha[0].startswith("INIT_START Runtime Version: python:")
    assert "alpha INIT ran" in alpha
    assert f"START RequestId: {request_id} Version: $LATEST" in alpha
    assert "alpha print 1" in alpha and "alpha print 2" in alpha
    warning = next(m for m in alpha if "alpha logging line" in m)
    assert warning.startswith("[WARNING]\t") and f"\t{request_id}\talpha logging line" in warning
    assert f"END RequestId: {request_id}" in alpha
    reports = [m for m in alpha if m.startswith("REPORT RequestId:")]
    assert len(reports) == 2
    assert "Init Duration:" in reports[0] and "Init Duration:" not in reports[1]
    assert "\tBilled Duration: " in reports[0] and "\tMemory Size: 256 MB" in reports[0]
    beta = _log_messages("beta")
    powertools = json.loads(next(m for m in beta if "beta powertools line" in m))
    assert powertools["level"] == "INFO" and powertools["service"] == "beta"
    assert not [m for m in alpha if "beta" in m]


def test_dry_run_does_not_run_the_handler_and_event_does(runtime: InProcessRuntime, aws: Any) -> None:
    # Given a registered function
    _create_function(aws, "alpha", "app.handler")
    runtime.register("alpha", ALPHA)

    # When it is invoked as a DryRun, then as an Event
    dry_run = aws.invoke(FunctionName="alpha", InvocationType="DryRun", Payload=b"{}")
    dry_run_logs = _log_messages("alpha") if _has_log_group("alpha") else []
    event = aws.invoke(FunctionName="alpha", InvocationType="Event", Payload=b'{"n": 5}')

    # Then the DryRun ran nothing, the Event ran the handler and answered 202 without a body
    assert dry_run["StatusCode"] == 204 and dry_run_logs == []
    assert event["StatusCode"] == 202 and event["Payload"].read() == b""
    assert "alpha print 5" in _log_messages("alpha")


def _has_log_group(name: str) -> bool:
    logs = boto3.client("logs", region_name=REGION)
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    return bool(groups)


def test_background_event_invocations_run_after_the_call_returns(runtime: InProcessRuntime, aws: Any) -> None:
    # Given a runtime that queues Event invocations, as AWS does
    runtime.event_invocations = "background"
    _create_function(aws, "alpha", "app.handler")
    runtime.register("alpha", ALPHA)

    # When an Event invocation is made and the queue drained
    response = aws.invoke(FunctionName="alpha", InvocationType="Event", Payload=b'{"n": 9}')
    drained = runtime.drain(timeout=5)

    # Then the handler ran in the background
    assert response["StatusCode"] == 202 and drained
    assert "alpha print 9" in _log_messages("alpha")


def test_sqs_event_source_mapping_runs_the_handler(runtime: InProcessRuntime, aws: Any) -> None:
    # Given a function mapped to a queue
    _create_function(aws, "alpha", "app.handler")
    runtime.register("alpha", ALPHA)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="alpha")

    # When a message is sent
    sqs.send_message(QueueUrl=queue_url, MessageBody="hello")

    # Then moto's SQS path reached the real handler, which succeeded, so the message is gone
    assert any(m.startswith("REPORT RequestId:") for m in _log_messages("alpha"))
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)


def test_nested_invoke_in_process_restores_the_outer_function(runtime: InProcessRuntime, aws: Any) -> None:
    # Given a function whose handler invokes another one through boto3
    _create_function(aws, "outer", "app.nested", env={"GREETING": "outer"})
    _create_function(aws, "alpha", "app.handler", env={"GREETING": "inner"})
    runtime.register("outer", ERRORS)
    runtime.register("alpha", ALPHA)

    # When the outer one is invoked
    response, body = _invoke(aws, "outer", {"target": "alpha"})

    # Then the inner one ran with its own environment and the outer one got its own back
    assert "FunctionError" not in response
    assert body["inner"]["greeting"] == "inner" and body["inner"]["common"] == "alpha"
    assert body["inner_error"] is None
    assert body["name_after"] == "outer" and body["greeting_after"] == "outer"


def test_unregistered_functions_keep_moto_behaviour(runtime: InProcessRuntime) -> None:
    # Given moto's docker-free Lambda, one registered function and one not
    with mock_aws(config={"lambda": {"use_docker": False}}):
        client = boto3.client("lambda", region_name=REGION)
        _create_function(client, "alpha", "app.handler")
        _create_function(client, "echo", "app.handler")
        runtime.register("alpha", ALPHA)

        # When both are invoked
        _, alpha = _invoke(client, "alpha", {"n": 1})
        echo = client.invoke(FunctionName="echo", Payload=b'{"x": 1}')["Payload"].read()

    # Then the registered one ran its handler and the other still echoes, as moto does
    assert alpha["common"] == "alpha"
    assert echo == b'{"x": 1}'


def test_install_and_uninstall_patch_and_restore_moto() -> None:
    # Given moto's own invoke path
    original = LambdaFunction.__dict__["_invoke_lambda"]

    # When a runtime is installed, then uninstalled
    runtime = InProcessRuntime()
    install(runtime)
    patched = LambdaFunction.__dict__["_invoke_lambda"]
    active = installed_runtime()
    uninstall()

    # Then the hook was in place only in between
    assert patched is not original and active is runtime
    assert LambdaFunction.__dict__["_invoke_lambda"] is original
    assert installed_runtime() is None


@pytest.fixture
def server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    yield url
    # The server shares this process's backends: leave nothing for the next test.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
    server.stop()


def _server_client(url: str, service: str) -> Any:
    # Fail rather than hang if something deadlocks; no retries so a timeout shows at once.
    config = Config(read_timeout=15, retries={"max_attempts": 1})
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def test_nested_request_response_invoke_through_http_works(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given localcloud served over HTTP, and a handler that invokes another function through it
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    runtime = InProcessRuntime(endpoint_url=server)
    install(runtime)
    try:
        client = _server_client(server, "lambda")
        _create_function(client, "http-outer", "app.nested", endpoint_url=server)
        _create_function(client, "http-alpha", "app.handler", env={"GREETING": "inner"}, endpoint_url=server)
        runtime.register("http-outer", ERRORS)
        runtime.register("http-alpha", ALPHA)

        # When the outer function is invoked through HTTP
        started = time.monotonic()
        response, body = _invoke(client, "http-outer", {"target": "http-alpha"})
    finally:
        uninstall()

    # Then the nested synchronous invoke ran inside it instead of deadlocking
    assert time.monotonic() - started < 5
    assert "FunctionError" not in response, body
    assert body["inner"]["greeting"] == "inner"
    assert body["inner"]["env"]["AWS_ENDPOINT_URL"] == server
    assert body["name_after"] == "http-outer"


def test_untraceable_nested_call_fails_clearly_instead_of_hanging(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a handler that invokes another function from a thread it started itself
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    runtime = InProcessRuntime(endpoint_url=server, deadlock_grace_s=0.2)
    install(runtime)
    try:
        client = _server_client(server, "lambda")
        _create_function(client, "thread-outer", "app.nested_from_thread", timeout=1, endpoint_url=server)
        _create_function(client, "thread-alpha", "app.handler", endpoint_url=server)
        runtime.register("thread-outer", ERRORS)
        runtime.register("thread-alpha", ALPHA)

        # When the outer function is invoked
        started = time.monotonic()
        response, body = _invoke(client, "thread-outer", {"target": "thread-alpha"})
        inner_logs = _log_messages("thread-alpha", endpoint_url=server)
    finally:
        uninstall()

    # Then nothing hangs: the inner call is refused with a clear error and the outer one times out
    assert time.monotonic() - started < 5
    assert response["FunctionError"] == "Unhandled" and body["errorType"] == "Sandbox.Timedout"
    assert any("could not start thread-alpha" in m and "held by thread-outer" in m for m in inner_logs)


def test_nothing_of_the_fixtures_is_left_in_the_process() -> None:
    # Given the tests above ran
    # When we look at the process-wide state the runtime touches
    # Then nothing of the fixtures is left behind
    assert not leaked_fixture_modules()
    assert not [p for p in sys.path if str(FIXTURES) in p]
    assert lambda_runtime.installed_runtime() is None
