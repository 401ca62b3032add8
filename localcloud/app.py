"""LocalCloud: starts the endpoint, installs the emulation into moto, deploys cdk.out, serves the flows."""

from __future__ import annotations

import json
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from localcloud.core.clock import Clock, FairClock
from localcloud.core.costs import cost_patches
from localcloud.core.faults import Faults
from localcloud.core.http import LocalCloudApp, Server, in_process, moto_app, request_path_patches
from localcloud.core.patches import REGISTRY, PatchSet
from localcloud.core.scheduler import Scheduler
from localcloud.core.settings import Settings
from localcloud.core.trace import Trace

# What CDK outputs for a REST API stage: https://{id}.execute-api.{region}.{suffix}/{stage}/
EXECUTE_API_URL = re.compile(r"https://(?P<api>[a-z0-9]+)\.execute-api\.[^/]+/(?P<stage>[^/]+)/?")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class SyncOutcome:
    """What an event source poller needs from one invocation."""

    payload: Any
    error: dict[str, Any] | None
    request_id: str


class LocalCloud:
    """One local AWS for the app: moto's services with localcloud's runtime, routing and deployer."""

    def __init__(
        self,
        *,
        settings: Settings,
        cdk_out: Path | None = None,
        outputs_file: Path | None = None,
        quiet: bool = False,
    ) -> None:
        self.settings = settings
        self.cdk_out = cdk_out
        self.outputs_file = outputs_file
        self.clock = Clock()
        self.fair_clock = FairClock()
        self.trace = Trace(stream=None if quiet else sys.stdout)
        self.scheduler = Scheduler(
            on_error=lambda name, error: self.trace.emit("error", f"{name}: {error!r}")
        )
        self.ready = False
        self.result: Any = None
        self._stoppers: list[Any] = []
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._build()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> Any:
        """Installs the emulation, serves the endpoint, deploys cdk.out if given; returns what it deployed."""
        self.runtime.start()
        self._stoppers.append(self.runtime.stop)
        for patch_set in self.patch_sets:
            REGISTRY.install(patch_set)
            self._stoppers.append(lambda patch_set=patch_set: REGISTRY.restore(patch_set))
        self.event_sources.start()
        self._stoppers.append(self.event_sources.stop)
        self.events.schedules.start()
        self._stoppers.append(self.events.schedules.stop)
        self.server = Server(self.app, self.settings.host, self.settings.port)
        self.server.start()
        self._stoppers.append(self.server.stop)
        if self.cdk_out is not None:
            self.result = self.deploy()
        self.ready = True
        return self.result

    def stop(self) -> None:
        for stopper in reversed(self._stoppers):
            try:
                stopper()
            except Exception as error:
                print(f"localcloud: while stopping: {error!r}", file=sys.stderr)
        self._stoppers.clear()
        self.scheduler.stop()

    def client(self, service: str) -> Any:
        """A boto3 client that calls this localcloud in-process (no socket); one per service."""
        from botocore.config import Config

        with self._clients_lock:
            if service not in self._clients:
                if self._session is None:  # one session: its loader reads each service model once
                    self._session = boto3.session.Session(
                        aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        region_name=self.settings.region,
                    )
                client = self._session.client(
                    service,
                    endpoint_url=self.settings.endpoint_url,
                    config=Config(retries={"total_max_attempts": 1}),  # nothing in-process is worth a retry
                )
                self._clients[service] = in_process(client, self.app)
            return self._clients[service]

    def deploy(self) -> Any:
        from localcloud.deploy.deployer import deploy

        assert self.cdk_out is not None
        result = deploy(
            self.cdk_out,
            client=self.client,
            account_id=self.settings.account_id,
            region=self.settings.region,
            on_function=self._register_function,
        )
        result.outputs = {stack: self._local_urls(values) for stack, values in result.outputs.items()}
        if self.outputs_file is not None:
            self.outputs_file.write_text(json.dumps(result.outputs, indent=2) + "\n")
        skipped = sorted({t for _, _, t in result.skipped})
        self.trace.emit(
            "deploy",
            f"deployed {len(result.outputs)} stack(s) in {result.seconds:.1f} s"
            + (f"; not emulated: {', '.join(skipped)}" if skipped else ""),
        )
        return result

    def _register_function(self, function: Any) -> None:
        """Gives the runtime the function's code asset and the log group its LoggingConfig names."""
        from localcloud.core import backends

        self.runtime.register(function.function_arn, function.code_dir, function.layer_dirs)
        if function.log_group:
            arn = backends.Arn.parse(function.function_arn)
            # moto ignores LoggingConfig; the runtime writes where this attribute says.
            with backends.BACKENDS:
                backends.lambda_backend(arn.account, arn.region).get_function(
                    function.function_arn
                ).logs_group_name = function.log_group

    def _local_urls(self, outputs: dict[str, str]) -> dict[str, str]:
        """API endpoints in outputs point at the cloud; rewrite them to this endpoint's API proxy."""
        return {
            key: EXECUTE_API_URL.sub(lambda m: self.apis.url_for(m["api"], m["stage"]) + "/", value)
            for key, value in outputs.items()
        }

    # -- wiring -------------------------------------------------------------------------------
    def _build(self) -> None:
        """Builds every part; nothing touches moto until start()."""
        import logging

        from moto.core.config import default_user_config

        from localcloud.apigateway.proxy import ApiGatewayProxy
        from localcloud.eventbridge.bus_policy import bus_policy_patches
        from localcloud.eventbridge.engine import EventBridgeEngine
        from localcloud.eventbridge.replay import Replays
        from localcloud.eventbridge.stack_events import stack_event_patches
        from localcloud.lambda_.async_invoke import AsyncInvoker
        from localcloud.lambda_.hooks import lambda_patches
        from localcloud.lambda_.runtime import Runtime
        from localcloud.queues.move_tasks import MoveTasks, move_task_patches
        from localcloud.routes import mount_routes
        from localcloud.sources.poller import EventSourcePoller
        from localcloud.stepfunctions.emulation import StepFunctionsEmulation

        # The trace says what happened; werkzeug's line per HTTP request would drown it.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        default_user_config["lambda"]["use_docker"] = False
        default_user_config["stepfunctions"]["execute_state_machine"] = True

        settings = self.settings
        self.faults = Faults(self.trace)
        self.runtime = Runtime(
            settings,
            fair_clock=self.fair_clock,
            project_root=PROJECT_ROOT,
            faults=self.faults,
            # X-Ray is not emulated: keep Powertools Tracer from trying to reach a daemon.
            extra_env={"POWERTOOLS_TRACE_DISABLED": "true"},
        )
        self.invoker = AsyncInvoker(
            settings=settings,
            clock=self.clock,
            scheduler=self.scheduler,
            trace=self.trace,
            runtime=self.runtime,
        )
        self.events = EventBridgeEngine(
            settings=settings,
            clock=self.clock,
            scheduler=self.scheduler,
            trace=self.trace,
            invoker=self.invoker,
            faults=self.faults,
        )
        self.replays = Replays(
            engine=self.events, clock=self.clock, scheduler=self.scheduler, trace=self.trace
        )
        self.event_sources = EventSourcePoller(
            settings,
            self.clock,
            self.scheduler,
            self.trace,
            self._invoke_sync,
            settings.account_id,
            settings.region,
            faults=self.faults,
        )
        self.app = LocalCloudApp(moto_app(), faults=self.faults)
        self.states = StepFunctionsEmulation(settings, self.trace, fair_clock=self.fair_clock, app=self.app)
        self.apis = ApiGatewayProxy(settings, self.trace, runtime=self.runtime)
        self.apis.mount(self.app)
        mount_routes(self)
        self.move_tasks = MoveTasks(scheduler=self.scheduler, trace=self.trace)
        self.patch_sets: list[PatchSet] = [
            request_path_patches(),
            cost_patches(),
            lambda_patches(
                self.runtime,
                invoke_async=lambda function, event: self.invoker.invoke(
                    function.function_arn, event, source="Invoke API"
                ),
                functions_dir=settings.state_dir.resolve() / "functions",
            ),
            self.events.patches(),
            self.replays.patches(),
            stack_event_patches(self.events, clock=self.clock, scheduler=self.scheduler, faults=self.faults),
            *self.states.patches(),
            _iot_trace_patches(self.trace),
            move_task_patches(self.move_tasks),
            bus_policy_patches(self.trace),
        ]

    def _invoke_sync(self, function_arn: str, event: dict[str, Any]) -> SyncOutcome:
        """A synchronous invocation for pollers (SQS, DynamoDB streams): the payload and the error."""
        from localcloud.core import backends

        arn = backends.Arn.parse(function_arn)
        with backends.BACKENDS:
            function = backends.lambda_backend(arn.account, arn.region).get_function(function_arn)
        result = self.runtime.invoke(function, event)
        payload = result.json()
        return SyncOutcome(
            payload=None if result.errored else payload,
            error=payload if result.errored else None,
            request_id=result.request_id,
        )

    def busy(self) -> dict[str, int]:
        """What is still to do: scheduled work, invocations, queued async events, running executions."""
        return {
            "pending": self.scheduler.pending(),
            "invocations": self.runtime.in_flight(),
            "queued": self.invoker.pending(),
            "running": self.states.running(),
        }


def _iot_trace_patches(trace: Trace) -> PatchSet:
    patches = PatchSet("iot trace")

    def tracing(original: Any) -> Any:
        def publish(backend: Any, topic: str, payload: bytes) -> None:
            original(backend, topic, payload)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
            trace.emit("iot", f"published to {topic}: {text[:200]}", topic=topic, payload=text)

        return publish

    patches.wrap(
        "moto.iotdata.models:IoTDataPlaneBackend.publish",
        tracing,
        why="IoT Core has no subscribers here: each publication is shown in the trace instead",
    )
    return patches
