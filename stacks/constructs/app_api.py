"""The app's HTTP front door: one REST API, IAM-authorized, validated, throttled, logged and traced."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.constructs.lambda_function import retention
from stacks.constructs.monitoring import API, FIVE_MINUTES, graph, title

# Stage-wide limits: a runaway client is throttled at the edge, before it reaches a function.
THROTTLE_RATE = 50
THROTTLE_BURST = 100

# The request bodies' models, generated from the contracts (PlaceOrderRequest, RequestTrial) by
# `make docs` (tools/contracts.py): JSON Schema draft-04, as API Gateway wants it. POST /orders says
# what to buy, never at what price or for whom: the caller is the customer, and only a service
# principal may name another one in onBehalfOf.
REQUEST_MODELS_FILE = Path(__file__).resolve().parents[2] / "schemas" / "api_models.json"
REQUEST_MODELS: dict[str, dict[str, Any]] = json.loads(REQUEST_MODELS_FILE.read_text())["models"]
PLACE_ORDER_SCHEMA = REQUEST_MODELS["PlaceOrder"]
REQUEST_TRIAL_SCHEMA = REQUEST_MODELS["RequestTrial"]


def json_schema(spec: dict[str, Any]) -> apigw.JsonSchema:
    """CDK's JsonSchema from a draft-04 schema as JSON writes it (`maxLength` -> `max_length`, ...)."""
    converted = {_snake(key): _convert(key, value) for key, value in spec.items() if key != "$schema"}
    return apigw.JsonSchema(schema=apigw.JsonSchemaVersion.DRAFT4, **converted)


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _convert(key: str, value: Any) -> Any:
    if key == "properties":
        return {name: json_schema(child) for name, child in value.items()}
    if key == "items":
        return json_schema(value)
    if key == "type":
        return apigw.JsonSchemaType[value.upper()]
    return value


class AppApi(Construct):
    """REST API `/orders` and `/trials` with IAM authorization on every method.

    IAM (SigV4) rather than Cognito: the callers are the app's own front ends and services, which
    already hold AWS credentials (a Cognito identity pool gives browsers temporary ones); it needs
    no user pool to run, and the same signed call works from curl, the SDKs and localcloud.
    On the dashboard: 4xx and 5xx responses, and latency (p50, p99).
    """

    dashboard_section = API

    def __init__(
        self, scope: Construct, construct_id: str, *, app_name: str, log_retention_days: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=retention(log_retention_days), removal_policy=RemovalPolicy.DESTROY
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{app_name}-api",
            description=f"{app_name}: orders and trials",
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                throttling_rate_limit=THROTTLE_RATE,
                throttling_burst_limit=THROTTLE_BURST,
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
        )
        self.validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        validations = cdk.Validations.of(self.api)
        for rule_id, reason in (
            ("AwsSolutions-APIG3", "No WAF: IAM authorization and stage throttling guard this internal API."),
            (
                "AwsSolutions-APIG6",
                "Access logging is on; execution logging needs an account-wide CloudWatch role (an AWS "
                "managed policy) that this app does not impose on the account.",
            ),
            (
                "AwsSolutions-COG4",
                "Methods use IAM authorization (SigV4), not a Cognito user pool: see AppApi.",
            ),
        ):
            validations.acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))

    def widgets(self) -> list[cloudwatch.IWidget]:
        api = self.api
        return [
            graph(
                f"{title(self)}: responses",
                left=[
                    api.metric_client_error(period=FIVE_MINUTES),
                    api.metric_server_error(period=FIVE_MINUTES),
                ],
            ),
            graph(
                f"{title(self)}: latency",
                left=[
                    api.metric_latency(period=FIVE_MINUTES, statistic="p50", label="Latency p50"),
                    api.metric_latency(period=FIVE_MINUTES, statistic="p99", label="Latency p99"),
                ],
            ),
        ]

    def route(
        self,
        path: str,
        method: str,
        function: lambda_.IFunction,
        *,
        model: dict[str, Any] | None = None,
        model_name: str | None = None,
    ) -> apigw.Method:
        """A Lambda proxy route; with a model, API Gateway rejects a body that breaks it (400)."""
        resource = self.api.root.resource_for_path(path)
        options: dict[str, Any] = {"request_validator": self.validator}
        if model is not None:
            options["request_models"] = {
                "application/json": self.api.add_model(
                    model_name or f"{method.title()}{path.strip('/').title().replace('/', '')}",
                    content_type="application/json",
                    schema=json_schema(model),
                )
            }
        if "{" in path:
            options["request_parameters"] = {
                f"method.request.path.{part.strip('{}')}": True
                for part in path.split("/")
                if part.startswith("{")
            }
        return resource.add_method(method, apigw.LambdaIntegration(function), **options)
