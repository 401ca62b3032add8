"""The DynamoDB table Powertools idempotency keeps its records in."""

from __future__ import annotations

from aws_cdk import Duration
from constructs import Construct

from stacks.constructs.event_route import TARGET_MAX_EVENT_AGE
from stacks.constructs.lambda_function import ASYNC_MAX_EVENT_AGE
from stacks.constructs.tables import app_table

# An event can reach a consumer up to (EventBridge's retry window + Lambda's async window) = 7 h
# after it was published; the idempotency record must outlive both, or a late retry repeats the
# side effect.
IDEMPOTENCY_EXPIRY = Duration.hours(24)
if IDEMPOTENCY_EXPIRY.to_seconds() < TARGET_MAX_EVENT_AGE.to_seconds() + ASYNC_MAX_EVENT_AGE.to_seconds():
    raise ValueError("the idempotency expiry must outlive the producers' retry windows")


class IdempotencyTable(Construct):
    """PK `id`, TTL on `expiration` (Powertools' schema), on-demand, point-in-time recovery on."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # Only records of in-flight or recent events: safe to drop with the stack.
        self.table = app_table(self, "Table", key="id", ttl="expiration", kept=False)
