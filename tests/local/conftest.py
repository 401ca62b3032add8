"""End-to-end fixtures: one localcloud server per test session, serving the synthesized app."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Local:
    """A running localcloud: its endpoint, the stack outputs, and helpers to wait on and read it."""

    endpoint: str
    outputs: dict[str, dict[str, str]]
    log_file: Path

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def output(self, key: str) -> str:
        found = [values[key] for values in self.outputs.values() if key in values]
        assert len(found) == 1, f"output {key} found {len(found)} times"
        return found[0]

    def call(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.endpoint}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read())

    def settle(self, timeout: float = 30) -> None:
        """Waits until every async delivery, retry and poll due soon has run."""
        result = self.call("POST", "/_localcloud/settle", {"timeout": timeout}, timeout=timeout + 5)
        assert result.get("settled"), f"localcloud did not settle: {result}"

    def trace(self, since: int = 0, kind: str | None = None) -> list[dict[str, Any]]:
        query = f"?since={since}" + (f"&kind={kind}" if kind else "")
        return list(self.call("GET", f"/_localcloud/trace{query}")["records"])

    def last_seq(self) -> int:
        """The newest trace record's number (without fetching the trace)."""
        return int(self.call("GET", "/_localcloud/trace?limit=0")["last"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_localcloud(cloud_assembly: Path, work: Path, *, ready_within: float) -> Iterator[Local]:
    """`python -m localcloud` in fast mode on a free port, as a user runs it, until the block ends."""
    port = free_port()
    outputs_file = work / "local-outputs.json"
    log_file = work / "localcloud.log"
    env = {**os.environ, "LOCALCLOUD_FAST": "1", "PYTHONUNBUFFERED": "1"}
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(key, None)
    command = [sys.executable, "-m", "localcloud", "--port", str(port), "--cdk-out", str(cloud_assembly)]
    command += ["--outputs-file", str(outputs_file), "--events-dir", str(ROOT / "events")]
    with log_file.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while not _ready(endpoint):
            if process.poll() is not None:
                raise RuntimeError(f"localcloud exited with {process.returncode}:\n{log_file.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"localcloud not ready after {ready_within:.0f} s:\n{log_file.read_text()}"
                )
            time.sleep(0.2)
        yield Local(endpoint=endpoint, outputs=json.loads(outputs_file.read_text()), log_file=log_file)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_localcloud/health", timeout=2) as response:
            return bool(json.loads(response.read()).get("status") == "ready")
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return False


@pytest.fixture(scope="session")
def local(cloud_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """The session's localcloud, shared by the flow tests."""
    with running_localcloud(cloud_assembly, tmp_path_factory.mktemp("localcloud"), ready_within=120) as cloud:
        yield cloud
