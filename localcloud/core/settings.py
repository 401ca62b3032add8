"""How one localcloud runs: where it listens, how it scales time, and how much Lambda it may run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
# Lambda's default account-wide concurrency quota.
AWS_ACCOUNT_CONCURRENCY = 1000


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Read once by `python -m localcloud` (or a test) and passed down; nothing below reads the env."""

    host: str = "127.0.0.1"
    port: int = 4566
    region: str = REGION
    account_id: str = ACCOUNT_ID
    # LOCALCLOUD_FAST=1: retry back-offs, Step Functions waits and polling intervals shrink so
    # tests and demos settle in seconds; without it they follow AWS's defaults.
    fast: bool = False
    fast_factor: float = 0.001
    # Fast mode shrinks Step Functions deadlines too, but never below these real seconds: they race
    # real work (a handler, a client sending a task token) that fast mode does not speed up.
    min_task_deadline: float = 60.0
    min_execution_deadline: float = 900.0
    # What AWS enforces: the account's concurrent executions; past it (or past a function's
    # reserved concurrency) invocations are throttled.
    account_concurrency: int = AWS_ACCOUNT_CONCURRENCY
    # What this machine can carry: at most this many execution environments (worker processes)
    # of one function run at once. AWS would start more; here the rest wait in localcloud's queue,
    # and that wait counts against no timeout.
    sandboxes_per_function: int = 4
    # Live worker processes in all; the least recently used idle one goes first.
    max_sandboxes: int = 64
    # Lambda's limit on INIT (importing the handler) of an on-demand function.
    init_timeout: float = 10.0
    # Where localcloud keeps what it makes while it runs: code of functions created through the
    # API, bytecode caches.
    state_dir: Path = Path(".localcloud")

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def delay(self, seconds: float) -> float:
        """A delay AWS would wait, as this localcloud waits it."""
        return seconds * self.fast_factor if self.fast else seconds
