"""The long-lived eventing stack: the bus, its archive, the forwarding rule, the alarm topic, metrics."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_events as events
from constructs import Construct

from stacks.config import AppConfig
from stacks.constructs.event_bus import Eventing
from stacks.constructs.event_consumer import EventConsumer
from stacks.constructs.lambda_function import function_defaults
from stacks.constructs.schema_registry import EventSchemaRegistry
from stacks.outputs import add_outputs


class EventingStack(Stack):
    """Deployed first and rarely changed: every flow's stack publishes to and consumes from this bus."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, **kwargs: Any) -> None:
        super().__init__(
            scope, construct_id, description=f"{config.app_name}: custom event bus and archive", **kwargs
        )
        self.eventing = Eventing(
            self,
            "Eventing",
            app_name=config.app_name,
            forwarded_sources=config.forwarded_sources,
            producer_stacks=config.producer_stacks(),
            archive_retention_days=config.archive_retention_days,
        )
        # The contracts as EventBridge schemas: browsable, and a source of code bindings for consumers.
        self.schemas = EventSchemaRegistry(self, "Schemas", app_name=config.app_name)
        # One central metrics consumer: every event of the app, the only place business metrics come from.
        # It lives with the bus, not with a flow: a new flow's events are counted without touching it.
        self.metrics = EventConsumer(
            self,
            "Metrics",
            bus=self.eventing.bus,
            pattern=events.EventPattern(source=list(config.app_sources)),
            handler="metrics.handler.lambda_handler",
            description="The only place business metrics are emitted: every event, by source and type",
            service_name="metrics",  # the EMF `service` dimension, unchanged by the move
            # Not /aws/lambda/<app>-metrics: the trials stack holds that group until it is updated, after
            # this stack, and a second group of the same name would fail this stack's deployment.
            log_name="eventing-metrics",
            alarm_topic=self.eventing.alarm_topic,
            defaults=function_defaults(config),
        )
        outputs = {
            "EventBusName": (self.eventing.bus.event_bus_name, "The custom event bus every flow uses"),
            "EventBusArn": (self.eventing.bus.event_bus_arn, "ARN of the custom event bus"),
            "ArchiveName": (self.eventing.archive.archive_name, "Archive of the custom bus, for replay"),
            "ForwardingDlqUrl": (
                self.eventing.forwarding.dlq.queue.queue_url,
                "Events the default bus could not forward to the custom bus",
            ),
            "AlarmTopicArn": (self.eventing.alarm_topic.topic_arn, "Operators' alarm topic"),
            "RedriveRoleArn": (
                self.eventing.redrive_role.role_arn,
                "Role `make redrive` assumes to put rule DLQ events back on their bus",
            ),
            "MetricsFunctionName": (self.metrics.function.function_name, "The central metrics consumer"),
            "MetricsLogGroupName": (self.metrics.app_function.log_group.log_group_name, "Its EMF log lines"),
        }
        add_outputs(self, outputs)
