"""Lambda entry point: trial events, status changes of trial stacks, and the scheduled reconcile."""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from environment_manager import config
from environment_manager.adapters import CloudFormationStacks, DynamoDbTrialsTable, EmfMetrics, S3Buckets
from environment_manager.service import (
    DeletionWait,
    Environments,
    StackDeletionFailed,
    StackDeletionPending,
    on_stack_status,
    reconcile,
    replace_claimed,
)
from environment_manager.trials import (
    TrialNotExpired,
    TrialNotFailed,
    expire_trial,
    fail_trial,
    sweep_stuck_trials,
)
from shared import correlation
from shared.clock import utc_now
from shared.contracts.trials import (
    InvalidTrialEvent,
    TrialAssigned,
    TrialAssignmentFailed,
    TrialExpired,
    parse_trial_event,
)
from shared.pool_table import DynamoDbPoolTable

__all__ = [
    "InvalidStackEvent",
    "InvalidTrialEvent",
    "StackDeletionFailed",
    "StackDeletionPending",
    "TrialNotExpired",
    "TrialNotFailed",
    "lambda_handler",
]

TEMPLATE_FILE = Path(__file__).parent / "trial_environment.template.json"
# Time kept back from the deadline when watching a deletion, to record the outcome and return.
DELETION_WAIT_MARGIN_SECONDS = 3.0
SCHEDULED = ("aws.events", "Scheduled Event")
STACK_STATUS_CHANGE = ("aws.cloudformation", "CloudFormation Stack Status Change")

settings = config.load()
logger = Logger()
session = boto3.session.Session()


class InvalidStackEvent(ValueError):
    """A CloudFormation status change without a stack id: nothing to act on."""


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    return session.client("dynamodb")  # one client for both tables


@lru_cache(maxsize=1)
def environments() -> Environments:
    return Environments(
        stacks=CloudFormationStacks(
            session.client("cloudformation"),
            template_body=TEMPLATE_FILE.read_text(),
            role_arn=settings.stack_role_arn,
        ),
        buckets=S3Buckets(session.client("s3")),
        pool=DynamoDbPoolTable(dynamodb(), settings.pool_table_name),
        stack_prefix=settings.stack_prefix,
    )


@lru_cache(maxsize=1)
def trials() -> DynamoDbTrialsTable:
    return DynamoDbTrialsTable(dynamodb(), settings.trials_table_name)


# clear_state: the trial id appended below must not stick to the next invocation's logs.
@logger.inject_lambda_context(correlation_id_path=correlation.EVENTBRIDGE, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    kind = (event.get("source"), event.get("detail-type"))
    if kind == SCHEDULED or event.get("action") == "reconcile":
        return _reconcile()
    if kind == STACK_STATUS_CHANGE:
        return _stack_status_change(event)

    # Raised, not swallowed: after Lambda's retries an invalid event lands in the OnFailure DLQ.
    trial = parse_trial_event(event, TrialAssigned, TrialExpired, TrialAssignmentFailed).detail
    logger.append_keys(trial_id=trial.trialId)
    if isinstance(trial, TrialAssigned):
        item = replace_claimed(trial.trialId, envs=environments(), created_at=utc_now())
        created = [item.environment_id] if item else []
        logger.info("Replacement environment provisioned", extra={"created_environments": created})
        return {"created": created}

    wait = DeletionWait.within(context.get_remaining_time_in_millis() / 1000 - DELETION_WAIT_MARGIN_SECONDS)
    if isinstance(trial, TrialExpired):
        retired = expire_trial(
            trial.trialId, trials=trials(), envs=environments(), now=int(time.time()), wait=wait
        )
        logger.info("Expired trial's environments deleted", extra={"retired": retired})
        return {"retired": retired}

    marked, retired = fail_trial(trial.trialId, trials=trials(), envs=environments(), wait=wait)
    logger.info("Failed trial cleaned up", extra={"trial_marked_failed": marked, "retired": retired})
    return {"trialMarkedFailed": marked, "retired": retired}


def _stack_status_change(event: dict[str, Any]) -> dict[str, Any]:
    detail = event.get("detail")
    stack_id = detail.get("stack-id") if isinstance(detail, dict) else None
    if not isinstance(stack_id, str) or not stack_id:
        raise InvalidStackEvent("CloudFormation Stack Status Change without a detail.stack-id")
    outcome = on_stack_status(stack_id, envs=environments(), now=utc_now())
    logger.info(
        "Stack status handled",
        extra={
            "action": outcome.action,
            "environment_id": outcome.environment_id,
            "replacement": outcome.replacement,
        },
    )
    return {
        "action": outcome.action,
        "environmentId": outcome.environment_id,
        "replacement": outcome.replacement,
    }


def _reconcile() -> dict[str, Any]:
    now = time.time()
    done = reconcile(
        pool_size=settings.pool_size,
        envs=environments(),
        now=utc_now(),
        provisioning_before=_iso(now - settings.provisioning_deadline_seconds),
    )
    stuck = sweep_stuck_trials(
        trials=trials(),
        metrics=EmfMetrics(
            namespace=settings.powertools_metrics_namespace, service=settings.powertools_service_name
        ),
        now=int(now),
        deadline_seconds=settings.stuck_trial_seconds,
    )
    result = {
        "warmed": done.warmed,
        "failed": done.failed,
        "redeleted": done.redeleted,
        "provisioned": done.provisioned,
        "needsAttention": stuck,
    }
    logger.info("Pool reconciled", extra=result)
    return result


def _iso(epoch: float) -> str:
    """The pool's `createdAt` format (shared.clock.utc_now) for a moment in the past."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"
