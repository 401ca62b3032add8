"""LocalCloud: starts the endpoint, wires the emulation into moto, deploys cdk.out, serves the flows."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from localcloud.core import Clock, Scheduler, Settings, Trace
from localcloud.server import LocalCloudApp, Server, json_response


@dataclass
class SyncOutcome:
    """What an event source poller needs from one invocation."""

    payload: Any
    error: dict[str, Any] | None


# Seconds: the floors of a Step Functions task timeout or heartbeat, and of an execution's
# TimeoutSeconds, in fast mode (what a burst of work on one machine may need).
MIN_TASK_DEADLINE = 60.0
MIN_EXECUTION_DEADLINE = 900.0

# What CDK outputs for a REST API stage: https://{id}.execute-api.{region}.{suffix}/{stage}/
EXECUTE_API_URL = re.compile(r"https://(?P<api>[a-z0-9]+)\.execute-api\.[^/]+/(?P<stage>[^/]+)/?")


class LocalCloud:
    """One local AWS for the app: moto's services with localcloud's runtime, routing and deployer."""

    def __init__(
        self, *, settings: Settings, cdk_out: Path, outputs_file: Path | None = None, quiet: bool = False
    ) -> None:
        self.settings = settings
        self.cdk_out = cdk_out
        self.outputs_file = outputs_file
        self.clock = Clock()
        self.trace = Trace(stream=None if quiet else sys.stdout)
        self.scheduler = Scheduler(
            on_error=lambda name, error: self.trace.emit("error", f"{name}: {error!r}")
        )
        self.ready = False
        self.result: Any = None
        self._stoppers: list[Any] = []

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> Any:
        self._configure_moto()
        self._install_emulation()
        self.server = Server(self._http_app(), self.settings.host, self.settings.port)
        self.server.start()
        self._stoppers.append(self.server.stop)
        self.result = self.deploy()
        self.ready = True
        return self.result

    def stop(self) -> None:
        for stopper in reversed(self._stoppers):
            try:
                stopper()
            except Exception as error:
                print(f"localcloud: while stopping: {error!r}")
        self._stoppers.clear()
        self.scheduler.stop()

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=self.settings.region
        )

    def deploy(self) -> Any:
        from localcloud.deployer import deploy

        result = deploy(
            self.cdk_out,
            session=self.session(),
            endpoint_url=self.settings.endpoint_url,
            account_id=self.settings.account_id,
            region=self.settings.region,
            on_function=self._register_function,
        )
        result.outputs = {stack: self._local_urls(values) for stack, values in result.outputs.items()}
        if self.outputs_file is not None:
            self.outputs_file.write_text(json.dumps(result.outputs, indent=2) + "\n")
        self.trace.emit(
            "deploy",
            f"deployed {len(result.outputs)} stack(s) in {result.seconds:.1f} s"
            + (
                f"; not emulated: {', '.join(sorted({t for _, _, t in result.skipped}))}"
                if result.skipped
                else ""
            ),
        )
        return result

    def _register_function(self, function: Any) -> None:
        """Gives the runtime the function's code asset and the log group its LoggingConfig names."""
        from localcloud import aws

        self.code.register(function.function_arn, function.code_dir)
        if function.log_group:
            arn = aws.Arn.parse(function.function_arn)
            # moto ignores LoggingConfig; the runtime writes where this attribute says.
            aws.lambda_backend(arn.account, arn.region).get_function(
                function.function_arn
            ).logs_group_name = function.log_group

    def _local_urls(self, outputs: dict[str, str]) -> dict[str, str]:
        """API endpoints in outputs point at the cloud; rewrite them to this endpoint's API proxy."""
        return {
            key: EXECUTE_API_URL.sub(lambda m: self.apis.url_for(m["api"], m["stage"]) + "/", value)
            for key, value in outputs.items()
        }

    # -- wiring -------------------------------------------------------------------------------
    def _configure_moto(self) -> None:
        import logging

        from moto.core.config import default_user_config

        # The trace says what happened; werkzeug's line per HTTP request would drown it.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

        default_user_config["lambda"]["use_docker"] = False
        default_user_config["stepfunctions"]["execute_state_machine"] = True

    def _install_emulation(self) -> None:
        from localcloud import lambda_runtime
        from localcloud.event_sources import EventSourcePoller
        from localcloud.eventbridge.engine import EventBridgeEngine
        from localcloud.lambda_async import AsyncInvoker
        from localcloud.stepfunctions import StepFunctionsEmulation

        # moto's Step Functions interpreter calls Lambda over HTTP on localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.settings.port)
        # Fast mode shrinks task timeouts and heartbeats, but never below what a busy local queue
        # needs to answer: a 5-minute payment heartbeat must not expire behind a burst of orders.
        self.states = StepFunctionsEmulation(
            self.settings,
            self.trace,
            min_deadline=MIN_TASK_DEADLINE,
            min_execution_deadline=MIN_EXECUTION_DEADLINE,
        )
        self.states.install()
        self._stoppers.append(self.states.uninstall)

        self.code = lambda_runtime.FunctionCode()
        self.runtime = lambda_runtime.InProcessRuntime(
            self.code,
            endpoint_url=self.settings.endpoint_url,
            # X-Ray is not emulated: keep Powertools Tracer from trying to reach a daemon.
            extra_env={"POWERTOOLS_TRACE_DISABLED": "true"},
        )
        lambda_runtime.install(self.runtime)
        self._stoppers.append(lambda_runtime.uninstall)

        self.invoker = AsyncInvoker(
            settings=self.settings,
            clock=self.clock,
            scheduler=self.scheduler,
            trace=self.trace,
            runtime=self.runtime,
        )
        # `Invoke` with InvocationType=Event answers 202 at once; the invocation then runs as Lambda's
        # async path does: queued, retried, and sent to its OnFailure/OnSuccess destinations.
        invoker = self.invoker

        def invoke_event(function: Any, event: Any) -> None:
            invoker.invoke(function.function_arn, event, source="Invoke API")

        self.runtime.invoke_event = invoke_event  # type: ignore[method-assign]
        self.events = EventBridgeEngine(
            settings=self.settings,
            clock=self.clock,
            scheduler=self.scheduler,
            trace=self.trace,
            invoker=self.invoker,
        )
        self.events.install()
        self._stoppers.append(self.events.uninstall)

        self._trace_iot_publications()

        # Started before the deploy: any write made before start() would take moto's synchronous path.
        self.event_sources = EventSourcePoller(
            self.settings,
            self.clock,
            self.scheduler,
            self.trace,
            self._invoke_sync,
            self.settings.account_id,
            self.settings.region,
        )
        self.event_sources.start()
        self._stoppers.append(self.event_sources.stop)

    def _trace_iot_publications(self) -> None:
        """IoT Core has no subscribers here: each publication is shown in the trace instead."""
        from moto.iotdata.models import IoTDataPlaneBackend

        original = IoTDataPlaneBackend.publish
        trace = self.trace

        def publish(backend: Any, topic: str, payload: bytes) -> None:
            original(backend, topic, payload)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
            trace.emit("iot", f"published to {topic}: {text[:200]}", topic=topic, payload=text)

        IoTDataPlaneBackend.publish = publish  # type: ignore[method-assign,assignment]
        self._stoppers.append(lambda: setattr(IoTDataPlaneBackend, "publish", original))

    def _invoke_sync(self, function_arn: str, event: dict[str, Any]) -> SyncOutcome:
        """A synchronous invocation for pollers (SQS, DynamoDB streams): the payload and the error."""
        from localcloud import aws

        arn = aws.Arn.parse(function_arn)
        function = aws.lambda_backend(arn.account, arn.region).get_function(function_arn)
        result = self.runtime.invoke(function, event)
        payload = result.json()
        return SyncOutcome(
            payload=None if result.errored else payload, error=payload if result.errored else None
        )

    def _http_app(self) -> LocalCloudApp:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from localcloud.apigateway import ApiGatewayProxy

        app = LocalCloudApp(DomainDispatcherApplication(create_backend_app))
        self.apis = ApiGatewayProxy(self.settings, self.trace)
        self.apis.mount(app)
        app.route("GET", "/_localcloud/health", self._health)
        app.route("GET", "/_localcloud/trace", self._trace_route)
        app.route("POST", "/_localcloud/settle", self._settle)
        app.route("GET", "/_localcloud/clock", self._clock_route)
        app.route("POST", "/_localcloud/clock", self._clock_route)
        app.route(
            "GET", "/_localcloud/outputs", lambda _: json_response(self.result.outputs if self.result else {})
        )
        return app

    # -- routes -------------------------------------------------------------------------------
    def _health(self, _request: Any) -> Any:
        if self.ready:
            return json_response(
                {"status": "ready", "endpoint": self.settings.endpoint_url, "fast": self.settings.fast}
            )
        return json_response({"status": "deploying"}, 503)

    def _trace_route(self, request: Any) -> Any:
        since = int(request.args.get("since", "0"))
        return json_response({"records": self.trace.records(since=since, kind=request.args.get("kind"))})

    def _settle(self, request: Any) -> Any:
        """Waits until no async work is due soon: what a test or demo waits on before checking results."""
        body = request.get_json(force=True, silent=True) or {}
        timeout = float(body.get("timeout", 30))
        within = float(body.get("within", 0.5 if self.settings.fast else 0.0))
        deadline = time.monotonic() + timeout
        quiet = 0
        # Settled: twice in a row, no delivery, retry or poll due soon and no workflow running
        # (workflows run on their own threads and feed the scheduler as they go).
        while quiet < 2 and time.monotonic() < deadline:
            idle = self.scheduler.wait_idle(max(deadline - time.monotonic(), 0), within=within)
            quiet = quiet + 1 if idle and not self._running_executions() else 0
            if quiet < 2:
                time.sleep(0.05)
        settled = quiet >= 2
        return json_response(
            {"settled": settled, "pending": self.scheduler.pending(), "running": self._running_executions()},
            200 if settled else 504,
        )

    def _running_executions(self) -> int:
        from localcloud import aws

        backend = aws.stepfunctions_backend(self.settings.account_id, self.settings.region)
        return sum(
            1
            for machine in list(backend.state_machines)
            for execution in list(machine.executions)
            if str(getattr(execution, "status", "")).endswith("RUNNING")
        )

    def _clock_route(self, request: Any) -> Any:
        if request.method == "POST":
            body = request.get_json(force=True, silent=True) or {}
            self.clock.advance(float(body.get("advance", 0)))
            self.trace.emit("clock", f"clock advanced by {body.get('advance', 0)} s")
        return json_response({"now": self.clock.now(), "offset": self.clock.offset})


def print_banner(cloud: LocalCloud, result: Any, *, events_dir: Path) -> None:
    """What a user needs to start: the endpoint, the environment to export, and commands per flow."""
    endpoint = cloud.settings.endpoint_url
    lines = [
        "",
        f"localcloud is ready on {endpoint} ({'fast mode' if cloud.settings.fast else 'AWS timings'})",
        f"  stacks: {', '.join(result.outputs)}  ({result.seconds:.1f} s)",
        f"  outputs: {cloud.outputs_file}" if cloud.outputs_file else "",
        "",
        "In another terminal:",
        f"  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"AWS_DEFAULT_REGION={cloud.settings.region}",
    ]
    for sample in sorted(events_dir.glob("*.json")) if events_dir.is_dir() else []:
        lines.append(f"  aws events put-events --entries file://{sample.as_posix()}")
    apis = sorted(
        {
            value
            for values in result.outputs.values()
            for value in values.values()
            if "/_user_request_" in value
        }
    )
    sign = '--aws-sigv4 "aws:amz:us-east-1:execute-api" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"'
    for api in apis:
        lines.append(f"  curl {sign} {api}<path>      # REST API (IAM-signed)")
    lines += ["", "Trace (Ctrl-C to stop):", ""]
    print("\n".join(line for line in lines if line is not None), flush=True)
