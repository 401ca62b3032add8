"""The API stack: the REST API in front of the flows' intake functions."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.config import AppConfig
from stacks.constructs.app_api import PLACE_ORDER_SCHEMA, REQUEST_TRIAL_SCHEMA, AppApi


class ApiStack(Stack):
    """Deployed after the flows: it references their functions, they never reference it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        orders_function: lambda_.IFunction,
        trials_function: lambda_.IFunction,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, description=f"{config.app_name}: HTTP API", **kwargs)
        self.app_api = AppApi(
            self, "Api", app_name=config.app_name, log_retention_days=config.log_retention_days
        )
        # Referenced by ARN so the invoke permission lives here, and the flow stacks never depend on the API.
        orders = lambda_.Function.from_function_attributes(
            self, "OrdersApiFunction", function_arn=orders_function.function_arn, same_environment=True
        )
        self.app_api.route("/orders", "POST", orders, model=PLACE_ORDER_SCHEMA, model_name="PlaceOrder")
        self.app_api.route("/orders/{orderId}", "GET", orders)
        trials = lambda_.Function.from_function_attributes(
            self, "TrialsApiFunction", function_arn=trials_function.function_arn, same_environment=True
        )
        self.app_api.route("/trials", "POST", trials, model=REQUEST_TRIAL_SCHEMA, model_name="RequestTrial")
        self.app_api.route("/trials/{trialId}", "GET", trials)
        CfnOutput(
            self, "ApiUrl", value=self.app_api.api.url, description="Base URL of the REST API (v1 stage)"
        )
        CfnOutput(self, "ApiId", value=self.app_api.api.rest_api_id, description="REST API id")
