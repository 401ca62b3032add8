"""The fault suite's own localcloud: a fresh one per session, so its faults touch no other test's state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.conftest import Local, free_port

ROOT = Path(__file__).resolve().parents[2]
READY_WITHIN_SECONDS = 180  # a loaded 2-core machine deploys the app in ~20 s; be generous


@pytest.fixture(scope="session")
def fault_cloud(cloud_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """`python -m localcloud` in fast mode on a free port, with nothing run on it yet."""
    work = tmp_path_factory.mktemp("faultcloud")
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
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        while not _ready(endpoint):
            if process.poll() is not None:
                raise RuntimeError(f"localcloud exited with {process.returncode}:\n{log_file.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"localcloud not ready after {READY_WITHIN_SECONDS} s:\n{log_file.read_text()}"
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
