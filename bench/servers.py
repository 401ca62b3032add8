"""Starting and stopping localcloud and moto_server, clients for them, and their process tree's CPU."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]

try:  # how many trace records localcloud keeps; older ones fall off (see events.TraceFollower)
    from localcloud.core.trace import KEEP as TRACE_KEEP
except ImportError:
    TRACE_KEEP = 20_000

SETTLE_TIMEOUT_S = 600.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
REGION = "us-east-1"


# -- processes ------------------------------------------------------------------------------------
@dataclass
class Server:
    """A server this benchmark started: its process, endpoint and log."""

    name: str
    process: subprocess.Popen[bytes]
    endpoint: str
    log: Path
    outputs_file: Path | None = None

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class BenchError(Exception):
    """A benchmark could not run: the table is replaced by this message."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env() -> dict[str, str]:
    env = {**os.environ, "LOCALCLOUD_FAST": "1", "PYTHONUNBUFFERED": "1"}
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(key, None)
    return env


@contextmanager
def started(
    name: str,
    argv: list[str],
    port: int,
    work: Path,
    ready: Callable[[Server], bool],
    outputs_file: Path | None = None,
) -> Iterator[Server]:
    """Starts a server, waits until `ready`, and always stops it and whatever it started."""
    log = work / f"{name}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=child_env(), stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, process, f"http://127.0.0.1:{port}", log, outputs_file)
    try:
        deadline = time.monotonic() + 180  # deploying the app's cdk.out takes a while
        while not ready(server):
            if process.poll() is not None:
                raise BenchError(f"{name} exited with {process.returncode}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"{name} not ready after 180 s:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
    except Exception:
        # What the server said, next to the traceback of what went wrong while it ran.
        print(f"--- {name} log (last lines) ---\n{server.log_tail()}", file=sys.stderr, flush=True)
        raise
    finally:
        stop_tree(process)


def localcloud(work: Path, cdk_out: Path) -> AbstractContextManager[Server]:
    """`python -m localcloud` in fast mode, quiet, on a free port, serving `cdk_out`."""
    port = free_port()
    outputs_file = work / f"outputs-{port}.json"
    argv = [sys.executable, "-m", "localcloud", "--port", str(port), "--quiet"]
    argv += ["--cdk-out", str(cdk_out), "--outputs-file", str(outputs_file)]
    return started("localcloud", argv, port, work, localcloud_ready, outputs_file)


def moto_server(work: Path) -> AbstractContextManager[Server]:
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-p", str(port)]
    return started("moto_server", argv, port, work, moto_ready)


def localcloud_ready(server: Server) -> bool:
    try:
        return bool(http_json("GET", f"{server.endpoint}/_localcloud/health", timeout=2)["status"] == "ready")
    except (OSError, ValueError, KeyError):
        return False


def moto_ready(server: Server) -> bool:
    try:
        client("sqs", server.endpoint).list_queues()
        return True
    except Exception:  # not listening yet
        return False


def empty_assembly(work: Path) -> Path:
    """A cloud assembly with no stacks: localcloud starts with nothing deployed, as moto_server does."""
    directory = work / "empty.out"
    directory.mkdir(exist_ok=True)
    (directory / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": {}}))
    return directory


def stop_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (localcloud then stops its zygote and workers); anything of its tree left is killed by pid."""
    tree = {pid: stat.start for pid, stat in process_tree(process.pid).items() if pid != process.pid}
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 5
    while (left := [pid for pid, start in tree.items() if alive(pid, start)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):  # it ended after all
            os.kill(pid, signal.SIGKILL)


# -- CPU of a process tree, from /proc -----------------------------------------------------------
@dataclass(frozen=True)
class ProcStat:
    ppid: int
    state: str
    start: int  # start time in clock ticks since boot: tells a pid's reuse apart
    own: int  # utime + stime, in clock ticks
    reaped: int  # cutime + cstime: CPU of children that ended and were waited for


def read_stat(pid: int) -> ProcStat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return ProcStat(
        ppid=int(fields[1]),
        state=fields[0],
        start=int(fields[19]),
        own=int(fields[11]) + int(fields[12]),
        reaped=int(fields[13]) + int(fields[14]),
    )


def alive(pid: int, start: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat.start == start and stat.state != "Z"


def process_tree(root: int) -> dict[int, ProcStat]:
    """The root and every live descendant, found through the ppid of every process."""
    stats = {
        int(p.name): s for p in Path("/proc").iterdir() if p.name.isdigit() and (s := read_stat(int(p.name)))
    }
    tree = {root: stats[root]} if root in stats else {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, stat in stats.items() if stat.ppid == parent and pid not in tree]
        tree.update((pid, stats[pid]) for pid in children)
        frontier += children
    return tree


@dataclass(frozen=True)
class Cpu:
    """CPU seconds of a process tree so far: the root's own, and everything (ended descendants too)."""

    root: float
    total: float

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.root - other.root, self.total - other.total)

    @property
    def children(self) -> float:
        """The descendants' share: the zygote and the Lambda workers."""
        return self.total - self.root


def tree_cpu(root: int) -> Cpu:
    # Each live process's own CPU, plus what its reaped children used (the zygote reaps the workers),
    # counts every process of the tree once. A worker ending during the reading may be counted twice
    # or not at all: a tick or two, against the seconds measured.
    tree = process_tree(root)
    if root not in tree:
        raise BenchError(f"process {root} is gone")
    total = sum(stat.own + stat.reaped for stat in tree.values())
    return Cpu(root=tree[root].own / CLK_TCK, total=total / CLK_TCK)


# -- clients ---------------------------------------------------------------------------------------
def client(service: str, endpoint: str) -> Any:
    """A boto3 client for `endpoint`; no retries, so every error a server answers is counted."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=4),
    )


def http_json(method: str, url: str, body: Any = None, timeout: float = 60) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # settle answers 504 with what is still busy
        return json.loads(error.read())


def settle(endpoint: str) -> dict[str, Any]:
    return dict(
        http_json(
            "POST", f"{endpoint}/_localcloud/settle", {"timeout": SETTLE_TIMEOUT_S}, SETTLE_TIMEOUT_S + 30
        )
    )
