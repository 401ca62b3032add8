"""Handler tests run against moto: AWS APIs in memory, handler modules loaded fresh per test."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture(scope="session", autouse=True)
def shared_sdk_models() -> Iterator[None]:
    """Handler modules are imported afresh per test, each making a boto3 session that would read the
    API models again (~50 ms a client); one loader for every session reads them once."""
    import functools

    import botocore.session

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            botocore.session,
            "create_loader",
            functools.lru_cache(maxsize=None)(botocore.session.create_loader),
        )
        yield


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy credentials and a region, with every AWS call served by moto."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_METRICS_NAMESPACE": "EventDriven",
        "POWERTOOLS_SERVICE_NAME": "test",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def load_handler(module: str) -> ModuleType:
    """Imports a handler module as Lambda would on a cold start: module-level init runs again."""
    for name in [m for m in sys.modules if m == module or m.startswith(module.rsplit(".", 1)[0] + ".")]:
        del sys.modules[name]
    return importlib.import_module(module)


def create_idempotency_table(name: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@dataclass
class FakeContext:
    """The parts of the Lambda context Powertools reads."""

    function_name: str = "welcome-email"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:welcome-email"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def eventbridge_event(
    detail: Any, *, event_id: str = "evt-1", detail_type: str = "user_signup"
) -> dict[str, Any]:
    """An event as EventBridge delivers it to a Lambda target."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": "myapp.userservice",
        "account": "123456789012",
        "time": "2026-11-22T10:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }
