"""The one place for Lambda defaults: every function of the app is an AppFunction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.config import AppConfig
from stacks.constructs.monitoring import FIVE_MINUTES, FUNCTIONS, graph, title

# The code asset is the lambdas/ folder only: the app's own code. boto3 comes with the runtime
# and Powertools (with pydantic) from the public layer, so nothing third-party is bundled.
LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache"]

# Lambda retries a failed async invocation twice by default; stated here so the template says it.
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = Duration.hours(6)


@dataclass(frozen=True, kw_only=True)
class FunctionDefaults:
    """What every function of the app shares, from the config."""

    app_name: str
    powertools_layer_arn: str
    log_retention_days: int


def function_defaults(config: AppConfig) -> FunctionDefaults:
    return FunctionDefaults(
        app_name=config.app_name,
        powertools_layer_arn=config.powertools_layer_arn,
        log_retention_days=config.log_retention_days,
    )


class AppFunction(Construct):
    """A Python 3.13 arm64 function with JSON logs, tracing, a retained log group and Powertools; on the
    dashboard, its errors, throttles and p99 duration."""

    dashboard_section = FUNCTIONS

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        service_name: str,
        defaults: FunctionDefaults,
        environment: dict[str, str] | None = None,
        memory_size: int = 256,
        timeout: Duration | None = None,
        on_failure: sqs.IQueue | None = None,
        reserved_concurrency: int | None = None,
        log_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.service_name = service_name
        app_name = defaults.app_name
        region = Stack.of(self).region
        # A predictable name, so `aws logs tail /aws/lambda/<app>-<service>` works without a lookup.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{app_name}-{log_name or service_name}",
            retention=retention(defaults.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Our own role instead of AWSLambdaBasicExecutionRole: logs may go to this group only.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {service_name} function",
        )
        self.log_group.grant_write(self.role)
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "Powertools", defaults.powertools_layer_arn.replace("{region}", region)
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            role=self.role,
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=ASSET_EXCLUDES),
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(10),
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=self.log_group,
            layers=[layer],
            environment={
                "POWERTOOLS_SERVICE_NAME": service_name,
                "POWERTOOLS_METRICS_NAMESPACE": app_name,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        self._acknowledge(service_name)
        if on_failure is not None:
            # Async invocations (EventBridge, S3, SNS) that still fail after Lambda's retries land
            # here with the request, the error and the attempt count, ready to be redriven.
            self.function.configure_async_invoke(
                retry_attempts=ASYNC_RETRY_ATTEMPTS,
                max_event_age=ASYNC_MAX_EVENT_AGE,
                on_failure=destinations.SqsDestination(on_failure),
            )

    def widgets(self) -> list[cloudwatch.IWidget]:
        fn = self.function
        return [
            graph(
                f"{self.service_name} ({title(self)})",
                left=[fn.metric_errors(period=FIVE_MINUTES), fn.metric_throttles(period=FIVE_MINUTES)],
                right=[fn.metric_duration(period=FIVE_MINUTES, statistic="p99", label="Duration p99")],
            )
        ]

    def _acknowledge(self, service_name: str) -> None:
        """The findings every function shares, each with the reason it is accepted."""
        validations = cdk.Validations.of(self.function)
        for rule_id in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
            validations.acknowledge(
                cdk.Acknowledgment(
                    id=rule_id,
                    reason="python3.13 is the runtime this app targets: the public Powertools layer in the "
                    "config is built for it; moving runtimes is a config change together with the layer.",
                )
            )
        validations.acknowledge(
            cdk.Acknowledgment(
                id="Serverless-LambdaDLQ",
                reason=f"{service_name}: failed async invocations go to an OnFailure destination (SQS), "
                "which keeps the error and attempt count a DeadLetterConfig would lose; functions not "
                "invoked asynchronously have their failures handled by their caller.",
            )
        )
        cdk.Validations.of(self.role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no "
                "resource-level permissions, so AWS requires Resource '*' for them.",
            )
        )


def retention(days: int) -> logs.RetentionDays:
    """Maps the configured day count to CloudWatch Logs' retention enum (the config checks the value)."""
    return _RETENTIONS[days]


_RETENTIONS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}
