"""A localcloud running in the test process, no app deployed: for tests of its parts, driven over HTTP."""

from __future__ import annotations

import io
import json
import socket
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from localcloud.app import LocalCloud
from localcloud.core.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
REGION = "us-east-1"
# Generous: a loaded 2-core machine may be slow, and no test here depends on how slow.
WAIT_SECONDS = 60


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Waits (at most WAIT_SECONDS) until `condition()` holds, failing the test naming `what` if not."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def zipped(code_dir: Path) -> bytes:
    """A code dir as the zip `aws lambda create-function --zip-file` uploads."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(code_dir.rglob("*.py")):
            archive.write(path, path.relative_to(code_dir).as_posix())
    return buffer.getvalue()


@dataclass
class Cloud:
    """The running localcloud and boto3 clients that call it as a user's would."""

    cloud: LocalCloud

    @property
    def endpoint(self) -> str:
        return self.cloud.settings.endpoint_url

    def client(self, service: str, *, read_timeout: float = 60) -> Any:
        # No retries: a throttle or a timeout shows as it happened.
        config = Config(read_timeout=read_timeout, retries={"total_max_attempts": 1})
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    def role(self) -> str:
        iam = self.client("iam")
        try:
            return str(iam.get_role(RoleName="lambda-role")["Role"]["Arn"])
        except iam.exceptions.NoSuchEntityException:
            document = json.dumps({"Version": "2012-10-17", "Statement": []})
            return str(
                iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument=document)["Role"]["Arn"]
            )

    def create_function(
        self, name: str, fixture: str, handler: str = "app.handler", *, timeout: int = 3, **extra: Any
    ) -> str:
        """A function from a fixture code dir, made through the API as `aws lambda create-function` does."""
        response = self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role(),
            Handler=handler,
            Code={"ZipFile": zipped(FIXTURES / fixture)},
            Timeout=timeout,
            MemorySize=256,
            **extra,
        )
        return str(response["FunctionArn"])

    def invoke(self, name: str, payload: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
        response = self.client("lambda").invoke(
            FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kwargs
        )
        body = response["Payload"].read()
        return response, (json.loads(body) if body else None)

    def log_messages(self, name: str) -> list[str]:
        events = self.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        return [event["message"] for event in events]

    def usage(self, name: str) -> dict[str, int]:
        """The function's environments running and idle, and its invocations in flight and in line."""
        return self.cloud.runtime.usage(
            f"arn:aws:lambda:{REGION}:{self.cloud.settings.account_id}:function:{name}"
        )

    def open_gate(self, gate: str) -> None:
        """Lets `lambda_gate` handlers waiting at `gate` (an SSM parameter) return."""
        self.client("ssm").put_parameter(Name=gate, Value="open", Type="String")

    def settle(self, timeout: float = 60) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}/_localcloud/settle",
            data=json.dumps({"timeout": timeout}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout + 5) as response:
            assert json.loads(response.read())["settled"]


@contextmanager
def running_cloud(state_dir: Path, *, fast: bool = True, **settings: Any) -> Iterator[Cloud]:
    """A localcloud (fast mode unless told) on a free port for the block; moto's state is wiped after it."""
    cloud = LocalCloud(
        settings=Settings(port=free_port(), fast=fast, state_dir=state_dir, **settings), quiet=True
    )
    cloud.start()
    try:
        yield Cloud(cloud)
    finally:
        cloud.stop()
        # The backends are this process's: leave nothing for the next test (what /moto-api/reset does).
        from moto.core.base_backend import BackendDict
        from moto.core.model_instances import reset_model_data

        BackendDict.reset()
        reset_model_data()
