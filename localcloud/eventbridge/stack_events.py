"""CloudFormation stack status events: stacks made through the CloudFormation API tell EventBridge.

On AWS every status a stack passes through (CREATE_IN_PROGRESS, CREATE_COMPLETE, DELETE_...,
CREATE_FAILED, ROLLBACK_...) is a `CloudFormation Stack Status Change` event from
`aws.cloudformation` on the account's default bus, the stack id its resource. moto records the
same statuses as the stack's own events (DescribeStackEvents); each one recorded here becomes an
EventBridge event too, routed after the API call returns and in the order recorded.

Where moto would fail the CreateStack call itself (a resource it cannot create), AWS answers the
call and the stack fails: CREATE_FAILED with the reason, ROLLBACK_IN_PROGRESS, ROLLBACK_COMPLETE.
The fault switch fails a creation the same way: `{"service": "cloudformation", "operation":
"CreateStack", "effect": "fail"}`. Stacks the deployer deploys from cdk.out do not pass through
the CloudFormation API and send nothing.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localcloud.core import backends as aws
from localcloud.core.clock import Clock
from localcloud.core.faults import Faults
from localcloud.core.patches import PatchSet
from localcloud.core.scheduler import Scheduler

if TYPE_CHECKING:
    from localcloud.eventbridge.engine import EventBridgeEngine

DETAIL_TYPE = "CloudFormation Stack Status Change"
SOURCE = "aws.cloudformation"
# One key: the events of all stacks are routed one at a time, in the order moto recorded them.
ROUTING_KEY = "cloudformation stack events"


def stack_status_event(stack: Any, status: str, reason: str | None, now: float) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": stack.account_id,
        "time": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": stack.region_name,
        "resources": [stack.stack_id],
        "detail": {
            "stack-id": stack.stack_id,
            "logical-resource-id": stack.name,
            "status-details": {"status": status, "status-reason": reason or ""},
        },
    }


def stack_event_patches(
    engine: EventBridgeEngine, *, clock: Clock, scheduler: Scheduler, faults: Faults | None
) -> PatchSet:
    patches = PatchSet("cloudformation events")

    def announcing(original: Any) -> Any:
        def add_stack_event(
            stack: Any,
            resource_status: str,
            resource_status_reason: str | None = None,
            resource_properties: str | None = None,
        ) -> None:
            original(stack, resource_status, resource_status_reason, resource_properties)
            event = stack_status_event(stack, resource_status, resource_status_reason, clock.now())
            backend = aws.events_backend(stack.account_id, stack.region_name)
            # Routed once the call that recorded it has let go of the backends: after it returns.
            scheduler.submit(
                lambda: engine.route_event(backend, "default", event, inline=True),
                name="cloudformation event",
                key=ROUTING_KEY,
            )

        return add_stack_event

    def failing_as_aws(original: Any) -> Any:
        def create_resources(stack: Any) -> None:
            fault = faults.failed_entry("cloudformation", "CreateStack") if faults else None
            if fault is not None:
                _fail_creation(stack, fault.error_message, created=False)
                return
            try:
                original(stack)
            except Exception as error:  # moto fails the call; AWS fails the stack
                _fail_creation(stack, f"{type(error).__name__}: {error}", created=True)

        return create_resources

    patches.wrap(
        "moto.cloudformation.models:Stack._add_stack_event",
        announcing,
        why="CloudFormation sends each stack status to EventBridge (CloudFormation Stack Status Change); "
        "moto only records it",
    )
    patches.wrap(
        "moto.cloudformation.models:Stack.create_resources",
        failing_as_aws,
        why="a stack whose resources fail is CREATE_FAILED then rolled back on AWS; moto fails the "
        "CreateStack call instead. The fault switch fails a creation this way too",
    )
    return patches


def _fail_creation(stack: Any, reason: str, *, created: bool) -> None:
    """What AWS does when a resource fails: CREATE_FAILED, then a rollback deletes what was made."""
    stack._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
    stack.status = "CREATE_FAILED"
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    stack.status = "ROLLBACK_IN_PROGRESS"
    if created:
        # A rollback that cannot delete everything still ends the stack here.
        with contextlib.suppress(Exception):
            stack.resource_map.delete()
    stack._add_stack_event("ROLLBACK_COMPLETE")
    stack.status = "ROLLBACK_COMPLETE"
    stack.stack_status_reason = reason
