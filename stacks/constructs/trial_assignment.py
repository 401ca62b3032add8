"""The trial assignment workflow: claim a warm environment for a requested trial, publish the outcome."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.shared.contracts import names
from stacks.constructs.lambda_function import FunctionDefaults
from stacks.constructs.workflow import (
    EVENTS_TRANSIENT,
    LAMBDA_TRANSIENT,
    logged_state_machine,
    retry_transient,
)

ASSIGNMENT_TIMEOUT = Duration.minutes(5)


def assignment_workflow(
    scope: Construct, *, bus: events.IEventBus, claim_function: lambda_.IFunction, defaults: FunctionDefaults
) -> sfn.StateMachine:
    """Claim a warm environment (the claim records it on the trial row), then publish the outcome.

    Standard, not Express: the execution is named after the trial, so a redelivered
    TrialRequested cannot start a second assignment (Express does not deduplicate names).
    """

    def publish(name: str, detail_type: str, status: str) -> sfn.TaskStateBase:
        return retry_transient(
            tasks.EventBridgePutEvents(
                scope,
                name,
                entries=[
                    tasks.EventBridgePutEventsEntry(
                        event_bus=bus,
                        source=names.TRIALS,
                        detail_type=detail_type,
                        detail=sfn.TaskInput.from_object(
                            {
                                "version": "1.0",
                                "trialId": sfn.JsonPath.string_at("$.trial.trialId"),
                                "leadId": sfn.JsonPath.string_at("$.trial.leadId"),
                                "type": sfn.JsonPath.string_at("$.trial.type"),
                                "requestedAt": sfn.JsonPath.number_at("$.trial.requestedAt"),
                                "status": status,
                            }
                        ),
                    )
                ],
                result_path=sfn.JsonPath.DISCARD,
            ),
            EVENTS_TRANSIENT,
        )

    not_published = sfn.Fail(scope, "OutcomeNotPublished", error="OutcomeNotPublished")
    publish_failed = publish("PublishTrialAssignmentFailed", names.TRIAL_ASSIGNMENT_FAILED, "FAILED")
    publish_failed.add_catch(not_published, errors=["States.ALL"], result_path="$.publishError")
    failed = publish_failed.next(sfn.Succeed(scope, "AssignmentFailedHandled"))

    claim = retry_transient(
        tasks.LambdaInvoke(
            scope,
            "ClaimEnvironment",
            lambda_function=claim_function,
            payload=sfn.TaskInput.from_object(
                {"action": "claim", "trialId": sfn.JsonPath.string_at("$.trial.trialId")}
            ),
            result_selector={
                "environmentId.$": "$.Payload.environmentId",
                "stackName.$": "$.Payload.stackName",
            },
            result_path="$.environment",
            retry_on_service_exceptions=False,
        ),
        LAMBDA_TRANSIENT,
    )
    # A concurrent write to the trial row: the claim is tried again (it never takes a second one).
    claim.add_retry(errors=["ClaimConflict"], interval=Duration.seconds(1), max_attempts=3, backoff_rate=2)
    claim.add_catch(failed, errors=["States.ALL"], result_path="$.error")
    publish_assigned = publish("PublishTrialAssigned", names.TRIAL_ASSIGNED, "ASSIGNED")
    publish_assigned.add_catch(not_published, errors=["States.ALL"], result_path="$.publishError")

    definition = (
        sfn.Pass(scope, "ReadTrial", parameters={"trial.$": "$"})
        .next(claim)
        .next(publish_assigned)
        .next(sfn.Succeed(scope, "Assigned"))
    )
    return logged_state_machine(
        scope,
        "Assignment",
        definition=definition,
        type_=sfn.StateMachineType.STANDARD,
        timeout=ASSIGNMENT_TIMEOUT,
        app_name=defaults.app_name,
        name="trial-assignment",
        days=defaults.log_retention_days,
    )
