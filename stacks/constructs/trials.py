"""The online-trial flow: requests in DynamoDB, stream and TTL to events, assignment, trial environments."""

from __future__ import annotations

import re

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.constructs.dead_letter_queue import DeadLetterQueue
from stacks.constructs.event_consumer import EventConsumer
from stacks.constructs.lambda_function import AppFunction, FunctionDefaults
from stacks.constructs.nag import acknowledge_wildcards, logical_id
from stacks.constructs.workflow import (
    DYNAMODB_TRANSIENT,
    EVENTS_TRANSIENT,
    LAMBDA_TRANSIENT,
    logged_state_machine,
    retry_transient,
)

SOURCE = "OnlineTrial"
STACK_PREFIX = "trial-env"
ASSIGNMENT_TIMEOUT = Duration.minutes(5)


class TrialFlow(Construct):
    """Everything of the trial flow except the HTTP API, which routes to `intake`."""

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
        self.trials = dynamodb.Table(
            self,
            "TrialsTable",
            partition_key=dynamodb.Attribute(name="trialId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            time_to_live_attribute="expiresAt",
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.pool = dynamodb.Table(
            self,
            "PoolTable",
            partition_key=dynamodb.Attribute(name="environmentId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.pool.add_global_secondary_index(
            index_name="byStatus",
            partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="createdAt", type=dynamodb.AttributeType.STRING),
        )
        self.pool.add_global_secondary_index(
            index_name="byTrial",
            partition_key=dynamodb.Attribute(name="trialId", type=dynamodb.AttributeType.STRING),
        )

        # -- intake: POST /trials writes the row; its expiry is the table's TTL -----------------
        self.intake = AppFunction(
            self,
            "TrialsApi",
            handler="trials_api.handler.lambda_handler",
            description="Trial requests: stores the trial with its expiry; answers trial lookups",
            service_name="trials-api",
            environment={
                "TRIALS_TABLE_NAME": self.trials.table_name,
                "TRIAL_DURATION_SECONDS": str(int(trial_duration.to_seconds())),
            },
            defaults=defaults,
        )
        self.trials.grant_read_write_data(self.intake.function)

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
            description="Turns trial INSERTs into TrialRequested and TTL expiries into TrialExpired",
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

        # -- assignment ----------------------------------------------------------------------------
        self.pool_fn = AppFunction(
            self,
            "TrialPool",
            handler="trial_pool.handler.lambda_handler",
            description="Claims a warm trial environment for a trial, with a conditional write",
            service_name="trial-pool",
            environment={"POOL_TABLE_NAME": self.pool.table_name},
            defaults=defaults,
        )
        self.pool.grant_read_write_data(self.pool_fn.function)
        self.assignment = self._assignment_workflow()
        self.assign = self._consumer(
            "AssignTrial",
            handler="assign_trial.handler.lambda_handler",
            description="TrialRequested starts the assignment workflow",
            environment={"STATE_MACHINE_ARN": self.assignment.state_machine_arn},
            detail_types=["TrialRequested"],
        )
        self.assignment.grant_start_execution(self.assign.function)

        # -- trial environments: CloudFormation stacks of the app's own small template -----------
        stack = Stack.of(self)
        self.environment_role = iam.Role(
            self,
            "EnvironmentStackRole",
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
            description="CloudFormation creates and deletes trial environments with this role",
        )
        self.environment_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:CreateBucket",
                    "s3:DeleteBucket",
                    "s3:PutBucketPublicAccessBlock",
                    "s3:PutEncryptionConfiguration",
                    "s3:PutBucketTagging",
                    "s3:PutBucketPolicy",
                    "s3:DeleteBucketPolicy",
                ],
                resources=[f"arn:{stack.partition}:s3:::{STACK_PREFIX}-*"],
            )
        )
        self.environment_role.add_to_policy(
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
        self.environments = self._consumer(
            "EnvironmentManager",
            handler="environment_manager.handler.lambda_handler",
            description="Creates warm trial environments and deletes expired or failed ones",
            environment={
                "POOL_TABLE_NAME": self.pool.table_name,
                "TRIALS_TABLE_NAME": self.trials.table_name,
                "POOL_SIZE": str(pool_size),
                "STACK_PREFIX": STACK_PREFIX,
                "STACK_ROLE_ARN": self.environment_role.role_arn,
            },
            detail_types=["TrialAssigned", "TrialExpired", "TrialAssignmentFailed"],
            timeout=Duration.minutes(2),
        )
        self.pool.grant_read_write_data(self.environments.function)
        self.trials.grant_read_write_data(self.environments.function)
        self.environment_role.grant_pass_role(self.environments.app_function.role)
        self.environments.function.add_to_role_policy(
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

        acknowledge_wildcards(
            self.pool_fn.role,
            reason="The pool's claims query its byStatus and byTrial indexes (`index/*` of this table).",
            resources=[f"<{logical_id(self.pool)}.Arn>/index/*"],
        )
        acknowledge_wildcards(
            self.environments.app_function.role,
            reason="Trial environments are stacks named trial-env-<id> (any stack id), found through the "
            "pool table's indexes (`index/*`).",
            resources=[
                f"<{logical_id(self.pool)}.Arn>/index/*",
                f"<{logical_id(self.trials)}.Arn>/index/*",
                f"arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/{STACK_PREFIX}-*/*",
            ],
        )
        acknowledge_wildcards(
            self.environment_role,
            reason="CloudFormation creates each trial environment's bucket (trial-env-<id>) and parameter "
            "(/trials/<id>/...); names are known only per environment, so the grant is on the prefixes.",
            resources=[
                f"arn:<AWS::Partition>:s3:::{STACK_PREFIX}-*",
                "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/trials/*",
            ],
        )
        acknowledge_wildcards(
            self.assignment.role,
            reason="Log delivery and X-Ray accept no resource-level permissions; LambdaInvoke grants the "
            "pool function with its versions (`:*`).",
            resources=["*", f"<{logical_id(self.pool_fn.function)}.Arn>:*"],
        )

    def _consumer(
        self,
        name: str,
        *,
        handler: str,
        description: str,
        environment: dict[str, str],
        detail_types: list[str] | None = None,
        pattern: events.EventPattern | None = None,
        timeout: Duration | None = None,
    ) -> EventConsumer:
        return EventConsumer(
            self,
            name,
            bus=self._bus,
            pattern=pattern or events.EventPattern(source=[SOURCE], detail_type=detail_types),
            handler=handler,
            description=description,
            service_name=re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower(),
            alarm_topic=self._alarm_topic,
            defaults=self._defaults,
            environment=environment,
            timeout=timeout,
        )

    def _assignment_workflow(self) -> sfn.StateMachine:
        """Claim a warm environment, record it on the trial, and publish the outcome from the last task.

        Standard, not Express: the execution is named after the trial, so a redelivered
        TrialRequested cannot start a second assignment (Express does not deduplicate names).
        """

        def publish(name: str, detail_type: str, status: str) -> sfn.TaskStateBase:
            return retry_transient(
                tasks.EventBridgePutEvents(
                    self,
                    name,
                    entries=[
                        tasks.EventBridgePutEventsEntry(
                            event_bus=self._bus,
                            source=SOURCE,
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

        not_published = sfn.Fail(self, "OutcomeNotPublished", error="OutcomeNotPublished")
        publish_failed = publish("PublishTrialAssignmentFailed", "TrialAssignmentFailed", "FAILED")
        publish_failed.add_catch(not_published, errors=["States.ALL"], result_path="$.publishError")
        failed = publish_failed.next(sfn.Succeed(self, "AssignmentFailedHandled"))

        claim = retry_transient(
            tasks.LambdaInvoke(
                self,
                "ClaimEnvironment",
                lambda_function=self.pool_fn.function,
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
        claim.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        record = retry_transient(
            tasks.DynamoUpdateItem(
                self,
                "RecordOnTrial",
                table=self.trials,
                key={
                    "trialId": tasks.DynamoAttributeValue.from_string(
                        sfn.JsonPath.string_at("$.trial.trialId")
                    )
                },
                update_expression="SET #status = :assigned, environmentId = :environment",
                condition_expression="attribute_exists(trialId)",
                expression_attribute_names={"#status": "status"},
                expression_attribute_values={
                    ":assigned": tasks.DynamoAttributeValue.from_string("ASSIGNED"),
                    ":environment": tasks.DynamoAttributeValue.from_string(
                        sfn.JsonPath.string_at("$.environment.environmentId")
                    ),
                },
                result_path=sfn.JsonPath.DISCARD,
            ),
            DYNAMODB_TRANSIENT,
        )
        record.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        publish_assigned = publish("PublishTrialAssigned", "TrialAssigned", "ASSIGNED")
        publish_assigned.add_catch(not_published, errors=["States.ALL"], result_path="$.publishError")

        definition = (
            sfn.Pass(self, "ReadTrial", parameters={"trial.$": "$"})
            .next(claim)
            .next(record)
            .next(publish_assigned)
            .next(sfn.Succeed(self, "Assigned"))
        )
        return logged_state_machine(
            self,
            "Assignment",
            definition=definition,
            type_=sfn.StateMachineType.STANDARD,
            timeout=ASSIGNMENT_TIMEOUT,
            app_name=self._defaults.app_name,
            name="trial-assignment",
            days=self._defaults.log_retention_days,
        )
