"""EnvironmentManager: provisions, warms, retires and reconciles trial environments (their stacks)."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambdas.shared.contracts import names
from stacks.constructs.alarms import alarm_on_any, business_metric
from stacks.constructs.dead_letter_queue import DeadLetterQueue
from stacks.constructs.event_consumer import EventConsumer
from stacks.constructs.event_route import (
    TARGET_MAX_EVENT_AGE,
    TARGET_RETRY_ATTEMPTS,
    DefaultBusForwarder,
    EventRoute,
)
from stacks.constructs.lambda_function import FunctionDefaults
from stacks.constructs.nag import acknowledge_wildcards
from stacks.constructs.patterns import event_pattern
from stacks.constructs.rule_alarms import RuleAlarms
from stacks.constructs.trial_pool import resolved_logical_id

STACK_PREFIX = "trial-env"
SERVICE_NAME = "environment-manager"
RECONCILE_RATE = Duration.minutes(5)
# A stack of a bucket and a parameter takes a minute or two; past this the reconcile asks CloudFormation.
PROVISIONING_DEADLINE = Duration.minutes(30)
STUCK_METRIC = "TrialsNeedingAttention"


class EnvironmentManager(EventConsumer):
    """The consumer of TrialAssigned / TrialExpired / TrialAssignmentFailed, and of the CloudFormation
    status changes of its own stacks, plus the schedule that reconciles the pool.

    CloudFormation publishes stack status changes on the default bus only. A forwarder rule there sends
    those of `trial-env-*` stacks (matched by stack-id prefix, in this account and region) to the custom
    bus, where a rule routes them here, rather than the default-bus rule invoking the function itself:
    every consumer rule stays on the custom bus with the same DLQ, retry policy and alarms, and the
    status changes land in the bus archive, replayable like every other event of the app. The cost is
    one extra hop. The function acts on the status CloudFormation reports when it runs (DescribeStacks),
    not on the one the event carries.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        alarm_topic: sns.ITopic,
        defaults: FunctionDefaults,
        pool: dynamodb.ITable,
        trials: dynamodb.ITable,
        pool_size: int,
        stuck_trial_after: Duration,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            bus=bus,
            pattern=event_pattern(names.TRIAL_ENVIRONMENT_CHANGES),
            handler="environment_manager.handler.lambda_handler",
            description="Provisions, warms, retires and reconciles trial environments",
            service_name=SERVICE_NAME,
            alarm_topic=alarm_topic,
            defaults=defaults,
            environment={
                "POOL_TABLE_NAME": pool.table_name,
                "TRIALS_TABLE_NAME": trials.table_name,
                "POOL_SIZE": str(pool_size),
                "STACK_PREFIX": STACK_PREFIX,
                "PROVISIONING_DEADLINE_SECONDS": str(int(PROVISIONING_DEADLINE.to_seconds())),
                "STUCK_TRIAL_SECONDS": str(int(stuck_trial_after.to_seconds())),
            },
            timeout=Duration.minutes(2),
        )
        stack = Stack.of(self)
        self.stack_role = iam.Role(
            self,
            "StackRole",
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
            description="CloudFormation creates and deletes trial environments with this role",
        )
        self.function.add_environment("STACK_ROLE_ARN", self.stack_role.role_arn)
        self._environment_stack_permissions(stack)

        # -- CloudFormation says when an environment is ready (or failed): default bus -> custom bus ---
        stack_status = events.EventPattern(
            source=["aws.cloudformation"],
            detail_type=["CloudFormation Stack Status Change"],
            detail={
                "stack-id": events.Match.prefix(
                    stack.format_arn(
                        service="cloudformation", resource="stack", resource_name=f"{STACK_PREFIX}-"
                    )
                )
            },
        )
        self.stack_status_forwarder = DefaultBusForwarder(
            self,
            "StackStatusForwarder",
            bus=bus,
            pattern=stack_status,
            description="Forwards status changes of trial-environment stacks to the custom bus",
            alarm_topic=alarm_topic,
        )
        self.stack_status_route = EventRoute(
            self,
            "StackStatusRoute",
            bus=bus,
            pattern=stack_status,
            description="Status changes of trial-environment stacks: WARM on CREATE_COMPLETE, else retired",
            alarm_topic=alarm_topic,
        ).to_function(self.function)

        # -- the reconcile: pool size, lost status events, retired stacks, stuck trials -------------
        self.reconcile_dlq = DeadLetterQueue(
            self, "ReconcileDlq", purpose="scheduled reconciles not delivered", alarm_topic=alarm_topic
        )
        self.reconcile = events.Rule(
            self,
            "Reconcile",
            description="Keeps the trial pool at its size, settles lost status events, sweeps stuck trials",
            schedule=events.Schedule.rate(RECONCILE_RATE),
        )
        self.reconcile.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=self.reconcile_dlq.queue,
                retry_attempts=TARGET_RETRY_ATTEMPTS,
                max_event_age=TARGET_MAX_EVENT_AGE,
            )
        )
        RuleAlarms(
            self, "ReconcileAlarms", rule=self.reconcile, event_bus_name="default", alarm_topic=alarm_topic
        )
        self.stuck_trials_alarm = alarm_on_any(
            self,
            "TrialsNeedingAttentionAlarm",
            description="Trials were still REQUESTED past their deadline and are now NEEDS_ATTENTION: "
            "look them up in the trials table (status NEEDS_ATTENTION, with a reason).",
            metric=business_metric(namespace=defaults.app_name, name=STUCK_METRIC, service=SERVICE_NAME),
            alarm_topic=alarm_topic,
        )

        # -- least privilege: exactly the actions the function uses --------------------------------
        pool.grant(
            self.function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"
        )
        trials.grant(self.function, "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query")
        self.stack_role.grant_pass_role(self.app_function.role)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "cloudformation:CreateStack",
                    "cloudformation:DeleteStack",
                    "cloudformation:DescribeStacks",
                ],
                resources=[
                    stack.format_arn(
                        service="cloudformation", resource="stack", resource_name=f"{STACK_PREFIX}-*/*"
                    )
                ],
            )
        )
        # Deleting a trial empties its bucket first: CloudFormation cannot delete a bucket with objects.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[f"arn:{stack.partition}:s3:::{STACK_PREFIX}-*"]
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:DeleteObject"], resources=[f"arn:{stack.partition}:s3:::{STACK_PREFIX}-*/*"]
            )
        )
        acknowledge_wildcards(
            self.app_function.role,
            reason="Trial environments are stacks named trial-env-<id> (any stack id) with buckets named "
            "after them (trial-env-<id>-bucket-<suffix>, objects any key); the pool's and trials' indexes "
            "(`index/*`) find environments by status and trial, and stuck trials.",
            resources=[
                f"<{resolved_logical_id(pool)}.Arn>/index/*",  # type: ignore[arg-type]
                f"<{resolved_logical_id(trials)}.Arn>/index/*",  # type: ignore[arg-type]
                f"arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/{STACK_PREFIX}-*/*",
                f"arn:<AWS::Partition>:s3:::{STACK_PREFIX}-*",
                f"arn:<AWS::Partition>:s3:::{STACK_PREFIX}-*/*",
            ],
        )

    def _environment_stack_permissions(self, stack: Stack) -> None:
        """What CloudFormation needs, with the stack role, to create and delete one environment."""
        self.stack_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:CreateBucket",
                    "s3:DeleteBucket",
                    # The bucket handler lists the bucket when it deletes it.
                    "s3:ListBucket",
                    "s3:PutBucketPublicAccessBlock",
                    "s3:PutBucketOwnershipControls",
                    "s3:PutEncryptionConfiguration",
                    "s3:PutBucketTagging",
                    "s3:PutBucketPolicy",
                    "s3:DeleteBucketPolicy",
                ],
                resources=[f"arn:{stack.partition}:s3:::{STACK_PREFIX}-*"],
            )
        )
        self.stack_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ssm:PutParameter",
                    "ssm:DeleteParameter",
                    "ssm:GetParameters",
                    "ssm:AddTagsToResource",
                ],
                resources=[stack.format_arn(service="ssm", resource="parameter", resource_name="trials/*")],
            )
        )
        acknowledge_wildcards(
            self.stack_role,
            reason="CloudFormation creates each trial environment's bucket (trial-env-<id>...) and parameter "
            "(/trials/<id>/...); names are known only per environment, so the grant is on the prefixes.",
            resources=[
                f"arn:<AWS::Partition>:s3:::{STACK_PREFIX}-*",
                "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/trials/*",
            ],
        )
