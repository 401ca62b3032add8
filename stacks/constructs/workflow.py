"""Workflow building blocks: bounded retries of transient errors; state machines logged, traced, alarmed."""

from __future__ import annotations

import jsii
from aws_cdk import Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IValidation

from stacks.constructs.alarms import alarm_on_any
from stacks.constructs.lambda_function import retention
from stacks.constructs.monitoring import FIVE_MINUTES, WORKFLOWS, graph, title

DYNAMODB_TRANSIENT = [
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
]
# The same throttling and server errors, as the aws-sdk integration names them (`DynamoDb.`).
DYNAMODB_SDK_TRANSIENT = [
    "DynamoDb.ProvisionedThroughputExceededException",
    "DynamoDb.RequestLimitExceededException",
    "DynamoDb.ThrottlingException",
    "DynamoDb.InternalServerErrorException",
]
# FailedEntry: PutEvents answered, but an entry failed (FailedEntryCount > 0); putting it again is safe
# because every consumer is idempotent.
EVENTS_TRANSIENT = [
    "EventBridge.InternalException",
    "EventBridge.ThrottlingException",
    "EventBridge.FailedEntry",
]
LAMBDA_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    # The invoke timed out on the client side, or the function itself timed out: every function a
    # workflow invokes is idempotent, so a second run is safe.
    "Lambda.ClientExecutionTimeoutException",
    "Sandbox.Timedout",
]
S3_TRANSIENT = ["S3.InternalError", "S3.SlowDown", "S3.ServiceUnavailable"]
STEPFUNCTIONS_TRANSIENT = [
    "StepFunctions.ExecutionLimitExceededException",
    "StepFunctions.SdkClientException",
]


def retry_transient(task: sfn.TaskStateBase, errors: list[str]) -> sfn.TaskStateBase:
    """Every task retries what AWS says is transient, boundedly, with back-off."""
    task.add_retry(errors=errors, interval=Duration.seconds(1), max_attempts=3, backoff_rate=2)
    return task


def state_machine_logs(
    scope: Construct, construct_id: str, *, app_name: str, name: str, days: int
) -> logs.LogGroup:
    # Step Functions needs a name under /aws/vendedlogs/ for its log delivery resource policy.
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=f"/aws/vendedlogs/states/{app_name}-{name}",
        retention=retention(days),
        removal_policy=RemovalPolicy.DESTROY,
    )


def logged_state_machine(
    scope: Construct,
    construct_id: str,
    *,
    definition: sfn.IChainable,
    type_: sfn.StateMachineType,
    timeout: Duration,
    app_name: str,
    name: str,
    days: int,
) -> sfn.StateMachine:
    """A state machine with a timeout, every state transition in its own log group, and tracing.

    Execution data (inputs, outputs, errors' causes) stays out of the logs: orders and trials carry
    customer ids and e-mail addresses, and a log group is kept and read far more widely than the
    execution history. The history (Standard) keeps it, for as long as Step Functions keeps it.
    """
    log_group = state_machine_logs(scope, f"{construct_id}Logs", app_name=app_name, name=name, days=days)
    return sfn.StateMachine(
        scope,
        construct_id,
        state_machine_type=type_,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
    )


# An execution that ends any of these ways left its order or trial where nobody else will move it.
EXECUTION_FAILURE_METRICS = ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted")


class WorkflowAlarms(Construct):
    """Alarms on every state machine of the stack: failed, timed-out and aborted executions, each
    notifying the operators' topic. Added last in a stack, it finds the state machines itself, so a
    new workflow is alarmed without code of its own; a state machine added after it fails the synth.
    On the dashboard each state machine shows its started and succeeded executions next to the
    alarmed ones."""

    dashboard_section = WORKFLOWS

    def __init__(self, scope: Construct, construct_id: str, *, alarm_topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.alarms: dict[str, list[cloudwatch.Alarm]] = {}
        self.machines = state_machines(stack)
        for machine in self.machines:
            name = Names.unique_id(machine)
            self.alarms[machine.node.path] = [
                self._alarm(name, metric, machine, alarm_topic) for metric in EXECUTION_FAILURE_METRICS
            ]
        self.node.add_validation(_AllAlarmed(self, stack))

    def _alarm(
        self, name: str, metric_name: str, machine: sfn.StateMachine, alarm_topic: sns.ITopic
    ) -> cloudwatch.Alarm:
        alarm = alarm_on_any(
            self,
            f"{name}{metric_name}",
            description=f"Step Functions {metric_name} on {machine.node.path}: an execution ended "
            "without finishing its work; find it in the execution history and the runbook.",
            metric=machine.metric(metric_name, period=Duration.minutes(5), statistic="Sum"),
            alarm_topic=alarm_topic,
        )
        return alarm

    def widgets(self) -> list[cloudwatch.IWidget]:
        return [
            graph(
                title(machine),
                left=[
                    machine.metric_started(period=FIVE_MINUTES),
                    machine.metric_succeeded(period=FIVE_MINUTES),
                    *(alarm.metric for alarm in self.alarms[machine.node.path]),
                ],
            )
            for machine in self.machines
        ]


def state_machines(stack: Stack) -> list[sfn.StateMachine]:
    return [c for c in stack.node.find_all() if isinstance(c, sfn.StateMachine)]


@jsii.implements(IValidation)
class _AllAlarmed:
    """Synth-time check: every state machine of the stack got its alarms."""

    def __init__(self, alarms: WorkflowAlarms, stack: Stack) -> None:
        self._alarms = alarms
        self._stack = stack

    def validate(self) -> list[str]:
        return [
            f"{machine.node.path} was added after WorkflowAlarms: create WorkflowAlarms last in the stack"
            for machine in state_machines(self._stack)
            if machine.node.path not in self._alarms.alarms
        ]
