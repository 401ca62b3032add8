"""What the interpreter did on every use and now does once: clients, JSONPath parsers, definitions."""

from __future__ import annotations

import functools
import threading
import traceback
from typing import Any

from localcloud.core.http import WSGIApp, in_process
from localcloud.core.patches import PatchSet

_ASL = "moto.stepfunctions.parser.asl"


def speed_patches(app: WSGIApp, endpoint_url: str) -> PatchSet:
    patches = PatchSet("stepfunctions speed")
    clients = _Clients(app, endpoint_url)
    patches.replace(
        f"{_ASL}.utils.boto_client:boto3",
        clients,
        why="the interpreter built a new boto3 client for every task (~40 ms) and called moto over a "
        "socket; it now reuses one client per service and region, calling localcloud in-process "
        "(`boto_client_for` is imported by name everywhere: its `boto3` is what can be replaced)",
    )
    cached_ext_parse = _cached("jsonpath_ng.ext", "parse")
    cached_parse = _cached("jsonpath_ng", "parse")
    patches.replace(
        f"{_ASL}.utils.json_path:parse",
        cached_ext_parse,
        why="a JSONPath parser was built for every lookup (~3 ms); parsed paths are immutable: one per path",
    )
    patches.replace(
        f"{_ASL}.component.common.path.result_path:parse",
        cached_parse,
        why="the same, for ResultPath",
    )
    _definitions(patches)
    _quiet_exceptions(patches)
    _threads(patches)
    return patches


class _PooledThread:
    """Stands in for `threading.Thread` where moto starts one per state: runs on a kept thread instead."""

    def __init__(
        self,
        group: Any = None,
        target: Any = None,
        name: Any = None,
        args: Any = (),
        kwargs: Any = None,
        *,
        daemon: Any = None,
    ) -> None:
        self._call = functools.partial(target, *args, **(kwargs or {}))

    def start(self) -> None:
        _POOL.run(self._call)


class _Pool:
    """Daemon threads that wait for work and run it, each call in a fresh context, as a new thread would."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[tuple[threading.Event, list[Any]]] = []

    def run(self, call: Any) -> None:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            slot: list[Any] = [call]
            threading.Thread(target=self._serve, args=(slot,), name="localcloud-sfn", daemon=True).start()
            return
        ready, slot = worker
        slot[0] = call
        ready.set()

    def _serve(self, slot: list[Any]) -> None:
        import contextvars

        ready = threading.Event()
        while True:
            call, slot[0] = slot[0], None
            try:
                contextvars.Context().run(call)
            except BaseException:  # printed, as a thread's uncaught exception is; the thread goes on
                traceback.print_exc()
            ready.clear()
            with self._lock:
                self._idle.append((ready, slot))
            ready.wait()


_POOL = _Pool()


class _Discarded(list):
    """Stands in for moto's TMP_THREADS, a list of every thread the interpreter ever started."""

    def append(self, _thread: Any) -> None:
        pass


def _threads(patches: PatchSet) -> None:
    patches.replace(
        f"{_ASL}.component.state.exec.execute_state:Thread",
        _PooledThread,
        why="a new thread for every state's evaluation; kept threads do the same work",
    )
    for module in (
        f"{_ASL}.component.state.exec.execute_state",
        f"{_ASL}.component.test_state.program.test_state_program",
        f"{_ASL}.component.program.program",
        f"{_ASL}.component.state.exec.state_map.iteration.inline_iteration_component",
        f"{_ASL}.component.state.exec.state_task.service.state_task_service_callback",
        f"{_ASL}.component.state.exec.state_parallel.branch_worker",
        "moto.stepfunctions.parser.backend.execution_worker",
    ):
        patches.replace(
            f"{module}:TMP_THREADS",
            _Discarded(),
            why="moto keeps every thread it started in a list nobody reads: memory that grew per execution",
        )


def _quiet_exceptions(patches: PatchSet) -> None:
    import logging

    log = logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component")

    def only_when_debugging(original: Any) -> Any:
        def log_exception(component: Any, *args: Any, **kwargs: Any) -> None:
            if log.isEnabledFor(logging.DEBUG):
                original(component, *args, **kwargs)

        return log_exception

    for name in ("_log_exception", "_log_failure_event_exception"):
        patches.wrap(
            f"{_ASL}.component.eval_component:EvalComponent.{name}",
            only_when_debugging,
            why="every exception on its way up (a Catch, a Choice on a missing field) printed the repr of "
            "each component it passed, an ERROR that is no error; the trace reports what failed",
        )


# Definitions kept parsed; an app has a handful, a test session a few hundred.
DEFINITIONS_KEPT = 512


def _definitions(patches: PatchSet) -> None:
    """Each definition is parsed once; every execution of it shares the parsed program.

    Safe because evaluation keeps its state in the execution's environment, never on the program's
    components (moto's own design rule, `iteration_component.py`). Parsing itself is not
    thread-safe (the preprocessor's query-language stack is a class attribute): every parse,
    including CreateStateMachine's validation, goes through one lock.
    """
    from collections import OrderedDict

    lock = threading.RLock()
    programs: OrderedDict[str, Any] = OrderedDict()

    def cached(original: Any) -> Any:
        def _get_evaluation_entrypoint(worker: Any) -> Any:
            text = worker._evaluation_details.state_machine_details.definition
            with lock:
                program = programs.get(text)
                if program is None:
                    program = original(worker)
                    _fix_heap_keys(program)
                    programs[text] = program
                    while len(programs) > DEFINITIONS_KEPT:
                        programs.popitem(last=False)
                else:
                    programs.move_to_end(text)
            return program

        return _get_evaluation_entrypoint

    def serialized(original: Any) -> Any:
        validate = original.__func__

        def _validate_definition(definition: str) -> None:
            with lock:
                validate(definition=definition)

        return staticmethod(_validate_definition)

    patches.wrap(
        "moto.stepfunctions.parser.backend.execution_worker:ExecutionWorker._get_evaluation_entrypoint",
        cached,
        why="moto parsed the definition with ANTLR at every execution start (~80 ms)",
    )
    patches.wrap(
        "moto.stepfunctions.parser.models:StepFunctionsParserBackend._validate_definition",
        serialized,
        why="parsing is not thread-safe: validation and execution starts parse under one lock",
    )


def _fix_heap_keys(program: Any) -> None:
    """Gives every component its retry-counter key now, not lazily while executions share it."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    pending: list[Any] = [program]
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, EvalComponent):
            _ = value.heap_key
            pending.extend(vars(value).values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())


def _cached(module: str, name: str) -> Any:
    import importlib

    return functools.lru_cache(maxsize=4096)(getattr(importlib.import_module(module), name))


class _Clients:
    """Stands in for `boto3` in moto's `boto_client_for`: one in-process client per service and region."""

    def __init__(self, app: WSGIApp, endpoint_url: str) -> None:
        self._app = app
        self._endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None

    def client(self, *, service_name: str, region_name: str, **_: Any) -> Any:
        """What `boto_client_for` asks of boto3; its endpoint and credentials do not matter in-process."""
        key = (region_name, service_name)
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._lock:  # building clients is not thread-safe; using them is
            client = self._clients.get(key)
            if client is None:
                client = in_process(self._build(region_name, service_name), self._app)
                self._clients[key] = client
            return client

    def _build(self, region: str, service: str) -> Any:
        import boto3
        from botocore.config import Config

        if self._session is None:
            self._session = boto3.session.Session()
        return self._session.client(
            service_name=service,
            region_name=region,
            aws_access_key_id="ak",
            aws_secret_access_key="sk",
            endpoint_url=self._endpoint_url,  # the Host header moto sees; no socket is opened
            # As moto's own: its interpreter passes parameters botocore would reject and sorts it out.
            config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}),
        )
