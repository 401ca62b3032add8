"""An asynchronous consumer of events: a rule, a function, and a DLQ on each of the two hops."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.constructs.dead_letter_queue import DeadLetterQueue
from stacks.constructs.event_route import EventRoute
from stacks.constructs.lambda_function import AppFunction, FunctionDefaults


class EventConsumer(Construct):
    """EventBridge → Lambda: undeliverable events land in the rule's DLQ, failed invocations (after
    Lambda's retries) in the function's OnFailure DLQ; both are alarmed. Adding a consumer to the
    app is one of these and a handler: nothing existing changes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        pattern: events.EventPattern,
        handler: str,
        description: str,
        service_name: str,
        alarm_topic: sns.ITopic,
        defaults: FunctionDefaults,
        environment: dict[str, str] | None = None,
        timeout: Duration | None = None,
        log_name: str | None = None,
        replays: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.failures = DeadLetterQueue(
            self, "Failures", purpose=f"{service_name} invocations that failed", alarm_topic=alarm_topic
        )
        self.app_function = AppFunction(
            self,
            "Handler",
            handler=handler,
            description=description,
            service_name=service_name,
            environment=environment,
            on_failure=self.failures.queue,
            timeout=timeout,
            defaults=defaults,
            log_name=log_name,
        )
        self.function = self.app_function.function
        self.route = EventRoute(
            self,
            "Route",
            bus=bus,
            pattern=pattern,
            description=description,
            alarm_topic=alarm_topic,
            replays=replays,
        ).to_function(self.function)
