"""Tests of Lambda's limits in localcloud: concurrency, throttling, localcloud's own queue, INIT, shutdown."""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.unit.localcloud.running_cloud import WAIT_SECONDS, running_cloud, wait_until


def test_parallel_invocations_get_workers_up_to_the_limit_and_the_rest_wait_in_line(tmp_path: Path) -> None:
    # Given a function that waits at a gate, on a localcloud that runs 2 environments per function
    with running_cloud(tmp_path, sandboxes_per_function=2) as cloud, ThreadPoolExecutor(4) as pool:
        cloud.create_function("gated", "lambda_gate", timeout=120)
        stood_still = cloud.cloud.fair_clock.stood_still

        # When 4 invocations arrive at once
        calls: list[Future[Any]] = [
            pool.submit(cloud.invoke, "gated", {"gate": "/gate/a", "n": n}) for n in range(4)
        ]
        wait_until(lambda: cloud.usage("gated")["in_flight"] == 4, "4 invocations in flight")
        busy = cloud.usage("gated")
        waited = cloud.cloud.fair_clock.stood_still > stood_still
        cloud.open_gate("/gate/a")
        results = [call.result(timeout=WAIT_SECONDS) for call in calls]

    # Then 2 ran in 2 worker processes while 2 waited in line (the fair clock standing still), none throttled
    assert busy["running"] == 2 and busy["waiting"] == 2
    assert waited
    assert sorted(body["n"] for _, body in results) == [0, 1, 2, 3]
    assert all("FunctionError" not in response for response, _ in results)
    assert len({body["pid"] for _, body in results}) == 2
    assert os.getpid() not in {body["pid"] for _, body in results}


@pytest.mark.parametrize(
    ("settings", "extra", "reason"),
    [
        ({}, {"reserved": 1}, "ReservedFunctionConcurrentInvocationLimitExceeded"),
        ({"account_concurrency": 1}, {}, "ConcurrentInvocationLimitExceeded"),
    ],
)
def test_past_its_concurrency_a_synchronous_invoke_is_throttled(
    tmp_path: Path, settings: dict[str, Any], extra: dict[str, Any], reason: str
) -> None:
    # Given a function with one invocation in flight, at its concurrency limit
    with running_cloud(tmp_path, **settings) as cloud, ThreadPoolExecutor(1) as pool:
        cloud.create_function("limited", "lambda_gate", timeout=120)
        if extra:
            cloud.client("lambda").put_function_concurrency(
                FunctionName="limited", ReservedConcurrentExecutions=extra["reserved"]
            )
        first = pool.submit(cloud.invoke, "limited", {"gate": "/gate/b"})
        wait_until(lambda: cloud.usage("limited")["in_flight"] == 1, "the first invocation")

        # When a second one is invoked synchronously
        with pytest.raises(ClientError) as throttled:
            cloud.invoke("limited", {})
        cloud.open_gate("/gate/b")
        response, _ = first.result(timeout=WAIT_SECONDS)

    # Then it is refused as Lambda refuses it, and the first one completes
    error = throttled.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Reason"] == reason
    assert "FunctionError" not in response


def test_a_throttled_asynchronous_event_is_retried_until_it_runs(tmp_path: Path) -> None:
    # Given a function with reserved concurrency 1, taken by an invocation waiting at its gate
    with running_cloud(tmp_path) as cloud, ThreadPoolExecutor(1) as pool:
        cloud.create_function("reserved", "lambda_gate", timeout=120)
        cloud.client("lambda").put_function_concurrency(
            FunctionName="reserved", ReservedConcurrentExecutions=1
        )
        first = pool.submit(cloud.invoke, "reserved", {"gate": "/gate/c"})
        wait_until(lambda: cloud.usage("reserved")["in_flight"] == 1, "the first invocation")
        since = cloud.cloud.trace.last

        # When an event is invoked asynchronously meanwhile, and the gate opens later
        response, _ = cloud.invoke("reserved", {"n": "async"}, InvocationType="Event")
        wait_until(
            lambda: any(r.get("outcome") == "throttled" for r in cloud.cloud.trace.records(since=since)),
            "a throttle",
        )
        cloud.open_gate("/gate/c")
        first.result(timeout=WAIT_SECONDS)
        cloud.settle()
        outcomes = [r.get("outcome") for r in cloud.cloud.trace.records(since=since, kind="lambda")]

    # Then it was accepted, throttled, kept, and ran once there was room
    assert response["StatusCode"] == 202
    assert "throttled" in outcomes and outcomes[-1] == "ok"


def test_an_init_past_its_limit_times_out(tmp_path: Path) -> None:
    # Given a function whose INIT takes longer than the INIT limit
    with running_cloud(tmp_path, init_timeout=0.5) as cloud:
        cloud.create_function("sleepy", "lambda_sleepy_init")

        # When it is invoked
        response, body = cloud.invoke("sleepy")

    # Then it fails as a timed-out INIT does
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout" and "0.50 seconds" in body["errorMessage"]


def test_stopping_ends_every_worker(tmp_path: Path) -> None:
    # Given a localcloud with warm workers
    with running_cloud(tmp_path) as cloud:
        cloud.create_function("alpha", "lambda_alpha")
        cloud.invoke("alpha")
        pids = cloud.cloud.runtime.worker_pids()
        zygote = cloud.cloud.runtime.zygote_pid()
        assert pids and zygote

    # When it stops, then no worker and no zygote is left
    wait_until(lambda: not [pid for pid in [*pids, zygote] if _alive(pid)], "the workers to end")


def _alive(pid: int | None) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False
