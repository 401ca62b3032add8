"""The trials stack: the online-trial flow."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from constructs import Construct

from stacks.config import AppConfig
from stacks.constructs.event_bus import Eventing
from stacks.constructs.lambda_function import function_defaults
from stacks.constructs.trials import TrialFlow
from stacks.constructs.workflow import WorkflowAlarms
from stacks.outputs import add_outputs


class TrialsStack(Stack):
    """Composes the trial flow with the bus and alarm topic of the eventing stack."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, eventing: Eventing, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, description=f"{config.app_name}: online-trial flow", **kwargs)
        self.flow = TrialFlow(
            self,
            "Trials",
            bus=eventing.bus,
            alarm_topic=eventing.alarm_topic,
            defaults=function_defaults(config),
            pool_size=config.trial_pool_size,
            trial_duration=Duration.seconds(config.trial_duration_seconds),
        )
        WorkflowAlarms(self, "WorkflowAlarms", alarm_topic=eventing.alarm_topic)  # every state machine above
        flow = self.flow
        outputs = {
            "TrialsTableName": (flow.trials.table_name, "Trial requests (stream + TTL on expiresAt)"),
            "TrialPoolTableName": (flow.pool.table_name, "Trial environments and their state"),
            "TrialRequestsTableName": (flow.requests.table_name, "Request keys: one live trial per key"),
            "TrialPoolReconcileRuleName": (
                flow.environments.reconcile.rule_name,
                "The scheduled reconcile of the trial pool (default bus)",
            ),
            "TrialAssignmentWorkflowArn": (flow.assignment.state_machine_arn, "The assignment workflow"),
            "TrialParkedQueueUrl": (flow.parked.queue.queue_url, "Stream records that broke the contract"),
            "TrialStreamFailureDlqUrl": (
                flow.stream_failures.queue.queue_url,
                "Stream batches that kept failing",
            ),
            "EnvironmentManagerFunctionName": (
                flow.environments.function.function_name,
                "Creates/deletes envs",
            ),
            "EnvironmentManagerFailureDlqUrl": (
                flow.environments.failures.queue.queue_url,
                "Failed env changes",
            ),
            "TrialsApiFunctionName": (flow.intake.function.function_name, "Trial intake Lambda"),
            "TrialStreamFunctionName": (flow.stream.function.function_name, "Stream to events Lambda"),
        }
        add_outputs(self, outputs)
