"""The online-trial flow: requests in DynamoDB, stream and TTL to events, assignment, trial environments."""

from __future__ import annotations

import re

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambdas.shared.contracts import names
from stacks.constructs.dead_letter_queue import DeadLetterQueue
from stacks.constructs.environment_manager import EnvironmentManager
from stacks.constructs.event_consumer import EventConsumer
from stacks.constructs.lambda_function import AppFunction, FunctionDefaults
from stacks.constructs.nag import acknowledge_wildcards, logical_id
from stacks.constructs.patterns import event_pattern
from stacks.constructs.tables import app_table
from stacks.constructs.trial_assignment import ASSIGNMENT_TIMEOUT, assignment_workflow
from stacks.constructs.trial_pool import TrialPool

# A trial still REQUESTED this long after its request was lost on the way: three times the longest an
# assignment may run, so a slow one is never swept.
STUCK_TRIAL_AFTER = Duration.minutes(ASSIGNMENT_TIMEOUT.to_minutes() * 3)


class TrialFlow(Construct):
    """The trial flow, wired: requests (table, API function, stream to events), the assignment workflow
    over the TrialPool, and the EnvironmentManager; the HTTP API, which routes to `intake`, is elsewhere."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        alarm_topic: sns.ITopic,
        defaults: FunctionDefaults,
        pool_size: int,
        trial_duration: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self._bus = bus
        self._alarm_topic = alarm_topic
        self._defaults = defaults
        self.trials = app_table(
            self,
            "TrialsTable",
            key="trialId",
            ttl="expiresAt",
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        )
        # Only candidates for the stuck-trial sweep (REQUESTED, oldest first); the sweep's write decides.
        self.trials.add_global_secondary_index(
            index_name="byStatus",
            partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="requestedAt", type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        # One live trial per request key ((lead, type), or the caller's Idempotency-Key): a retried
        # POST /trials answers with the trial it created, written in one transaction with the row.
        self.requests = app_table(self, "TrialRequestsTable", key="requestKey", ttl="expiresAt")

        # -- intake: POST /trials writes the row; its expiry is the table's TTL -----------------
        self.intake = AppFunction(
            self,
            "TrialsApi",
            handler="trials_api.handler.lambda_handler",
            description="Trial requests: stores the trial with its expiry; answers trial lookups",
            service_name="trials-api",
            environment={
                "TRIALS_TABLE_NAME": self.trials.table_name,
                "TRIAL_REQUESTS_TABLE_NAME": self.requests.table_name,
                "TRIAL_DURATION_SECONDS": str(int(trial_duration.to_seconds())),
            },
            defaults=defaults,
        )
        # TransactWriteItems of the row and its request key: PutItem on each; reads are GetItem.
        self.trials.grant(self.intake.function, "dynamodb:GetItem", "dynamodb:PutItem")
        self.requests.grant(self.intake.function, "dynamodb:GetItem", "dynamodb:PutItem")
        acknowledge_wildcards(
            self.intake.role,
            reason="Table grants cover the table's indexes (`index/*`); the API reads rows by key only.",
            resources=[f"<{logical_id(self.trials)}.Arn>/index/*"],
        )

        # -- stream → events ---------------------------------------------------------------------
        self.parked = DeadLetterQueue(
            self,
            "ParkedRecords",
            purpose="trial stream records that break the contract",
            alarm_topic=alarm_topic,
        )
        self.stream_failures = DeadLetterQueue(
            self, "StreamFailures", purpose="trial stream batches that kept failing", alarm_topic=alarm_topic
        )
        self.stream = AppFunction(
            self,
            "TrialStream",
            handler="trial_stream.handler.lambda_handler",
            description="Trial INSERTs, moves to NEEDS_ATTENTION and TTL expiries to their events",
            service_name="trial-stream",
            environment={
                "EVENT_BUS_NAME": bus.event_bus_name,
                "PARKED_QUEUE_URL": self.parked.queue.queue_url,
            },
            defaults=defaults,
        )
        self.stream.function.add_event_source(
            sources.DynamoEventSource(
                self.trials,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=50,
                max_batching_window=Duration.seconds(1),
                bisect_batch_on_error=True,
                retry_attempts=3,
                max_record_age=Duration.hours(6),
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.stream_failures.queue),
                filters=[
                    lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")}),
                    # The stuck-trial sweep's write: a move to NEEDS_ATTENTION from another status.
                    lambda_.FilterCriteria.filter(
                        {
                            "eventName": lambda_.FilterRule.is_equal("MODIFY"),
                            "dynamodb": {
                                "NewImage": {"status": {"S": lambda_.FilterRule.is_equal("NEEDS_ATTENTION")}},
                                "OldImage": {
                                    "status": {"S": lambda_.FilterRule.not_equals("NEEDS_ATTENTION")}
                                },
                            },
                        }
                    ),
                    # Only the TTL service's deletions are expiries: a user's delete is not.
                    lambda_.FilterCriteria.filter(
                        {
                            "eventName": lambda_.FilterRule.is_equal("REMOVE"),
                            "userIdentity": {
                                "type": lambda_.FilterRule.is_equal("Service"),
                                "principalId": lambda_.FilterRule.is_equal("dynamodb.amazonaws.com"),
                            },
                        }
                    ),
                ],
            )
        )
        bus.grant_put_events_to(self.stream.function)
        self.parked.queue.grant_send_messages(self.stream.function)

        # -- assignment: a workflow claims a warm environment from the pool ---------------------------
        self.trial_pool = TrialPool(self, "Pool", trials=self.trials, defaults=defaults)
        self.pool = self.trial_pool.table
        self.pool_fn = self.trial_pool.claim
        # States are created in this construct's scope, which keeps their ids (and the state machine's).
        self.assignment = assignment_workflow(
            self, bus=bus, claim_function=self.pool_fn.function, defaults=defaults
        )
        self.assign = self._consumer(
            "AssignTrial",
            handler="assign_trial.handler.lambda_handler",
            description="TrialRequested starts the assignment workflow",
            environment={"STATE_MACHINE_ARN": self.assignment.state_machine_arn},
            pattern=event_pattern(names.TRIAL_REQUESTED_ONLY),
        )
        self.assignment.grant_start_execution(self.assign.function)
        acknowledge_wildcards(
            self.assignment.role,
            reason="Log delivery and X-Ray accept no resource-level permissions; LambdaInvoke grants the "
            "pool function with its versions (`:*`).",
            resources=["*", f"<{logical_id(self.pool_fn.function)}.Arn>:*"],
        )

        # -- trial environments: CloudFormation stacks of the app's own small template -----------
        self.environments = EnvironmentManager(
            self,
            "EnvironmentManager",
            bus=bus,
            alarm_topic=alarm_topic,
            defaults=defaults,
            pool=self.pool,
            trials=self.trials,
            pool_size=pool_size,
            stuck_trial_after=STUCK_TRIAL_AFTER,
        )

    def _consumer(
        self,
        name: str,
        *,
        handler: str,
        description: str,
        environment: dict[str, str],
        pattern: events.EventPattern,
        timeout: Duration | None = None,
    ) -> EventConsumer:
        return EventConsumer(
            self,
            name,
            bus=self._bus,
            pattern=pattern,
            handler=handler,
            description=description,
            service_name=re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower(),
            alarm_topic=self._alarm_topic,
            defaults=self._defaults,
            environment=environment,
            timeout=timeout,
        )
