"""`python -m localcloud.lambda_.zygote FD PROJECT_ROOT PYCACHE_DIR`: forks Lambda worker processes.

localcloud's own process runs many threads, and a process with threads cannot fork safely. So a
single-threaded zygote is started once: it imports what every Lambda sandbox has at hand (the
AWS SDK from the runtime, Powertools and pydantic from its layer), then forks one worker per
execution environment on request. A new worker costs a fork plus the function's own INIT,
instead of a fresh interpreter importing boto3 again.

The control socket (FD) carries one request per worker: the worker's socket, passed as a file
descriptor. The answer is the worker's process id. The zygote ends when localcloud closes it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import signal
import socket
import struct
import sys

# What the Lambda Python runtime and the Powertools layer provide, imported once for every worker.
PRELOAD = (
    "boto3",
    "boto3.dynamodb.types",
    "botocore.session",
    "pydantic",
    "aws_lambda_powertools",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.typing",
)
PID = struct.Struct("!q")


# The services whose API models every worker's SDK reads: read once here, shared by every fork.
WARM_SERVICES = (
    "dynamodb",
    "sqs",
    "sns",
    "events",
    "stepfunctions",
    "lambda",
    "s3",
    "sesv2",
    "iot",
    "iot-data",
    "cloudformation",
    "logs",
    "ssm",
    "sts",
)


def preload() -> None:
    for name in PRELOAD:
        # Not installed here: functions that need it fail as they would on AWS.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    _share_sdk_models()


def _share_sdk_models() -> None:
    """Every botocore session of a worker reads its API models from one loader, filled here.

    A session reads each service's model (a large JSON file) the first time a client of it is made,
    into a cache of its own loader; a handler makes its session at INIT, so every cold start read
    them again. One loader per data path, shared, is what every session of one process can use: the
    models are read-only.
    """
    from localcloud.core.patches import REGISTRY, PatchSet

    try:
        import botocore.session
    except ImportError:
        return
    patches = PatchSet("worker sdk models")
    patches.wrap(
        "botocore.session:create_loader",
        lambda original: functools.lru_cache(maxsize=None)(original),
        why="a loader per session read every API model again at each cold start; one loader shares them",
    )
    REGISTRY.install(patches)
    session = botocore.session.get_session()
    for service in WARM_SERVICES:
        with contextlib.suppress(Exception):  # a service this botocore does not know
            session.get_service_model(service)
    with contextlib.suppress(Exception):
        session.get_component("endpoint_resolver")


def _reap(*_: object) -> None:
    # Reaped, not ignored: the zygote's children's CPU time then counts in its own (`make bench`).
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def main(argv: list[str]) -> int:
    control = socket.socket(fileno=int(argv[0]))
    project_root, pycache_dir = argv[1], argv[2]
    from localcloud.lambda_.protocol import Channel
    from localcloud.lambda_.worker import Worker

    preload()
    # The functions' bytecode goes here, not into cdk.out's assets (which `cdk deploy` would upload).
    sys.pycache_prefix = pycache_dir
    sys.path[:] = [p for p in sys.path if p not in ("", project_root)]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for localcloud, which stops the workers
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(control, 16, 1)
        except InterruptedError:
            continue
        if not fds:
            return 0  # localcloud closed the control socket
        pid = os.fork()
        if pid == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 0
            try:
                Worker(Channel(socket.socket(fileno=fds[0]))).serve()
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(fds[0])
        control.sendall(PID.pack(pid))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
