"""Workflow building blocks: bounded retries of transient errors, and state machines logged and traced."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.constructs.lambda_function import retention

DYNAMODB_TRANSIENT = [
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
]
EVENTS_TRANSIENT = ["EventBridge.InternalException", "EventBridge.ThrottlingException"]
LAMBDA_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
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
    """A state machine with a timeout, its full execution data in its own log group, and tracing."""
    log_group = state_machine_logs(scope, f"{construct_id}Logs", app_name=app_name, name=name, days=days)
    return sfn.StateMachine(
        scope,
        construct_id,
        state_machine_type=type_,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
    )
