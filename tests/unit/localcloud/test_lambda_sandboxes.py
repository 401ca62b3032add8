"""Tests for localcloud's Lambda runtime: each execution environment a worker process of its own."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.localcloud.running_cloud import FIXTURES, Cloud, running_cloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("state")) as running:
        running.create_function("alpha", "lambda_alpha", Environment={"Variables": {"GREETING": "hello"}})
        running.create_function("beta", "lambda_beta")
        yield running


def test_handler_runs_with_the_function_environment_and_context(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployed function, and a variable only the host has
    monkeypatch.setenv("LOCALCLOUD_TEST_HOST_ONLY", "host")

    # When it is invoked through the Lambda API
    response, body = cloud.invoke("alpha", {"n": 1})

    # Then the real handler ran with Lambda's environment and context, not the host's
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert body["greeting"] == "hello" and body["host_only"] is None
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "alpha"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/alpha"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == body["log_stream_name"]
    assert env["AWS_ENDPOINT_URL"] == cloud.endpoint
    assert env["_HANDLER"] == "app.handler" and env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert Path(env["LAMBDA_TASK_ROOT"]).is_dir()
    assert 0 < body["remaining_ms"] <= 3000
    assert body["invoked_function_arn"].endswith(":function:alpha")
    assert body["memory_limit_in_mb"] == "256"
    # and its lazily imported module came from its own code
    assert body["lazy"] == "lazy-alpha"


def test_functions_keep_their_own_same_named_modules(cloud: Cloud) -> None:
    # Given two functions whose code both has a module named `common`
    # When each is invoked
    _, alpha = cloud.invoke("alpha")
    _, beta = cloud.invoke("beta")

    # Then each sees its own
    assert alpha["common"] == "alpha" and beta["common"] == "beta"


def test_first_call_is_a_cold_start_then_warm_until_reset(cloud: Cloud) -> None:
    # Given a function with no environment yet
    cloud.create_function("gamma", "lambda_alpha")

    # When it is invoked three times, its environments are reset, and it is invoked again
    first = [cloud.invoke("gamma", LogType="Tail") for _ in range(3)]
    cloud.cloud.runtime.reset()
    response, after_reset = cloud.invoke("gamma", LogType="Tail")

    # Then INIT ran once per environment, and only the cold calls report an Init Duration
    bodies = [body for _, body in first]
    assert [body["calls"] for body in bodies] == [1, 2, 3]
    assert len({body["init_id"] for body in bodies}) == 1
    assert after_reset["calls"] == 1 and after_reset["init_id"] != bodies[0]["init_id"]
    tails = [base64.b64decode(r["LogResult"]).decode() for r, _ in [*first, (response, None)]]
    assert ["Init Duration" in tail for tail in tails] == [True, False, False, True]
    assert "alpha INIT ran" in tails[0] and "INIT_START" in tails[0]


def test_a_configuration_change_starts_a_new_environment(cloud: Cloud) -> None:
    # Given a warm function
    cloud.create_function("delta", "lambda_alpha")
    _, before = cloud.invoke("delta")

    # When its configuration changes
    cloud.client("lambda").update_function_configuration(
        FunctionName="delta", Environment={"Variables": {"GREETING": "changed"}}
    )
    _, after = cloud.invoke("delta")

    # Then the next invocation is a cold start that sees the change
    assert after["greeting"] == "changed" and after["init_id"] != before["init_id"]


def test_an_exception_becomes_an_unhandled_function_error(cloud: Cloud) -> None:
    # Given a handler that raises
    cloud.create_function("boom", "lambda_errors", "app.boom")

    # When it is invoked
    response, body = cloud.invoke("boom", {"why": "because"})

    # Then AWS's error payload comes back, and the error is in the function's log
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom: because"
    assert body["requestId"] and any("raise ValueError" in line for line in body["stackTrace"])
    assert any(m.startswith("[ERROR] ValueError: boom: because") for m in cloud.log_messages("boom"))


def test_a_handler_past_its_timeout_is_ended_and_reported_as_aws_does(cloud: Cloud) -> None:
    # Given a handler that never returns, with a 1-second timeout
    cloud.create_function("slow", "lambda_errors", "app.slow", timeout=1)

    # When it is invoked, then invoked again
    response, body = cloud.invoke("slow")
    _, second = cloud.invoke("slow", {"quick": True})

    # Then the first call timed out with Lambda's payload and its environment was discarded
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    messages = cloud.log_messages("slow")
    assert any("Task timed out after 1.00 seconds" in m for m in messages)
    assert any(m.startswith("REPORT") and "Status: timeout" in m for m in messages)
    # and the next one ran in a new environment
    assert second == "quick"
    assert sum(m.startswith("INIT_START") for m in cloud.log_messages("slow")) == 2


def test_an_import_error_is_a_runtime_import_module_error(cloud: Cloud) -> None:
    # Given a function whose module cannot be imported
    cloud.create_function("broken", "lambda_broken")

    # When it is invoked
    response, body = cloud.invoke("broken")

    # Then INIT failed as AWS reports it
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'app'" in body["errorMessage"]
    assert any("Phase: init\tStatus: error" in m for m in cloud.log_messages("broken"))


def test_returns_are_serialized_as_lambda_does(cloud: Cloud) -> None:
    # Given handlers returning nothing and DynamoDB's Decimals
    cloud.create_function("none", "lambda_errors", "app.returns_none")
    cloud.create_function("decimal", "lambda_errors", "app.returns_decimal")

    # When they are invoked
    _, nothing = cloud.invoke("none")
    _, numbers = cloud.invoke("decimal")

    # Then None is JSON null and Decimals are plain numbers
    assert nothing is None
    assert numbers == {"count": 3, "ratio": 0.5}


def test_output_reaches_cloudwatch_logs_with_the_workers_own_memory(cloud: Cloud) -> None:
    # Given a function that prints, logs with logging and with Powertools
    cloud.invoke("alpha", {"n": 42})
    cloud.invoke("beta")

    # When its log group is read
    alpha, beta = cloud.log_messages("alpha"), cloud.log_messages("beta")

    # Then every line is there, framed by Lambda's START/END/REPORT lines
    assert "alpha print 42" in alpha
    assert any(m.startswith("[WARNING]\t") and m.endswith("\talpha logging line") for m in alpha)
    assert any(m.startswith("{") and json.loads(m)["message"] == "beta powertools line" for m in beta)
    report = next(m for m in alpha if m.startswith("REPORT"))
    assert "Memory Size: 256 MB" in report
    used = int(report.split("Max Memory Used: ")[1].split(" MB")[0])
    assert 0 < used < 256


def test_dry_run_does_not_run_the_handler_and_event_does(cloud: Cloud) -> None:
    # Given a warm function
    cloud.create_function("epsilon", "lambda_alpha")
    cloud.invoke("epsilon")

    # When it is invoked with DryRun, then with Event
    dry, _ = cloud.invoke("epsilon", InvocationType="DryRun")
    event, _ = cloud.invoke("epsilon", {"n": 9}, InvocationType="Event")
    cloud.settle()

    # Then DryRun ran nothing and Event ran it once, after answering 202
    assert dry["StatusCode"] == 204 and event["StatusCode"] == 202
    _, body = cloud.invoke("epsilon")
    assert body["calls"] == 3


def test_a_handler_may_invoke_another_function_from_any_thread(cloud: Cloud) -> None:
    # Given handlers that invoke alpha synchronously, one from a thread of its own
    cloud.create_function("outer", "lambda_errors", "app.nested", timeout=10)
    cloud.create_function("outer-thread", "lambda_errors", "app.nested_from_thread", timeout=10)

    # When they are invoked
    _, direct = cloud.invoke("outer", {"target": "alpha"})
    _, threaded = cloud.invoke("outer-thread", {"target": "alpha"})

    # Then both nested calls ran, each function in its own environment
    assert direct["inner"]["greeting"] == "hello" and direct["name_after"] == "outer"
    assert threaded["results"][0]["common"] == "alpha"


def test_functions_created_without_python_code_keep_motos_behaviour(cloud: Cloud) -> None:
    # Given a function whose zip holds no Python module
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "no code")
    cloud.client("lambda").create_function(
        FunctionName="empty",
        Runtime="python3.12",
        Role=cloud.role(),
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
    )

    # When it is invoked
    response = cloud.client("lambda").invoke(FunctionName="empty", Payload=b'{"echo": 1}')

    # Then localcloud does not claim it: moto echoes the payload, as it does without Docker
    assert response["StatusCode"] == 200
    assert response["Payload"].read() == b'{"echo": 1}'


def test_a_function_runs_with_its_layers_code(cloud: Cloud) -> None:
    # Given a function whose handler imports a module its layer provides (as the deployer registers it)
    arn = cloud.create_function("layered", "lambda_layer_user")
    cloud.cloud.runtime.register(arn, FIXTURES / "lambda_layer_user", [FIXTURES / "layer_greeting"])

    # When it is invoked
    _, body = cloud.invoke("layered")

    # Then the layer's python/ directory was on its path
    assert body == "hello from the layer"
