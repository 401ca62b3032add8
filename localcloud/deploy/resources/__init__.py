"""Per-type handlers that create each CloudFormation resource through the AWS service APIs."""

from __future__ import annotations

from localcloud.deploy.resources.apigateway import (
    apigateway_account,
    apigateway_api_key,
    apigateway_authorizer,
    apigateway_deployment,
    apigateway_gateway_response,
    apigateway_method,
    apigateway_model,
    apigateway_request_validator,
    apigateway_resource,
    apigateway_rest_api,
    apigateway_stage,
    apigateway_usage_plan,
    apigateway_usage_plan_key,
)
from localcloud.deploy.resources.common import Handler
from localcloud.deploy.resources.dynamodb import dynamodb_global_table, dynamodb_table
from localcloud.deploy.resources.events import (
    events_archive,
    events_event_bus,
    events_event_bus_policy,
    events_rule,
)
from localcloud.deploy.resources.iam import iam_managed_policy, iam_policy, iam_role, kms_alias, kms_key
from localcloud.deploy.resources.lambda_ import (
    lambda_alias,
    lambda_event_invoke_config,
    lambda_event_source_mapping,
    lambda_function,
    lambda_layer_version,
    lambda_permission,
    lambda_version,
)
from localcloud.deploy.resources.logs import (
    custom_log_retention,
    logs_log_group,
    logs_metric_filter,
    logs_resource_policy,
)
from localcloud.deploy.resources.other import (
    cloudwatch_alarm,
    cloudwatch_dashboard,
    iot_topic_rule,
    ses_email_identity,
    ssm_parameter,
    stepfunctions_state_machine,
)
from localcloud.deploy.resources.queues import (
    sns_subscription,
    sns_topic,
    sns_topic_policy,
    sqs_queue,
    sqs_queue_policy,
)
from localcloud.deploy.resources.schemas import eventschemas_registry, eventschemas_schema
from localcloud.deploy.resources.storage import custom_s3_bucket_notifications, s3_bucket, s3_bucket_policy

__all__ = ["HANDLERS", "Handler"]


HANDLERS: dict[str, Handler] = {
    "AWS::Events::EventBus": events_event_bus,
    "AWS::Events::EventBusPolicy": events_event_bus_policy,
    "AWS::Events::Archive": events_archive,
    "AWS::Events::Rule": events_rule,
    "AWS::EventSchemas::Registry": eventschemas_registry,
    "AWS::EventSchemas::Schema": eventschemas_schema,
    "AWS::SQS::Queue": sqs_queue,
    "AWS::SQS::QueuePolicy": sqs_queue_policy,
    "AWS::SNS::Topic": sns_topic,
    "AWS::SNS::TopicPolicy": sns_topic_policy,
    "AWS::SNS::Subscription": sns_subscription,
    "AWS::KMS::Key": kms_key,
    "AWS::KMS::Alias": kms_alias,
    "AWS::IAM::Role": iam_role,
    "AWS::IAM::Policy": iam_policy,
    "AWS::IAM::ManagedPolicy": iam_managed_policy,
    "AWS::Lambda::Function": lambda_function,
    "AWS::Lambda::LayerVersion": lambda_layer_version,
    "AWS::Lambda::Version": lambda_version,
    "AWS::Lambda::Alias": lambda_alias,
    "AWS::Lambda::EventInvokeConfig": lambda_event_invoke_config,
    "AWS::Lambda::Permission": lambda_permission,
    "AWS::Lambda::EventSourceMapping": lambda_event_source_mapping,
    "AWS::Logs::LogGroup": logs_log_group,
    "AWS::Logs::MetricFilter": logs_metric_filter,
    "AWS::Logs::ResourcePolicy": logs_resource_policy,
    "AWS::DynamoDB::Table": dynamodb_table,
    "AWS::DynamoDB::GlobalTable": dynamodb_global_table,
    "AWS::SES::EmailIdentity": ses_email_identity,
    "AWS::CloudWatch::Alarm": cloudwatch_alarm,
    "AWS::CloudWatch::Dashboard": cloudwatch_dashboard,
    "AWS::S3::Bucket": s3_bucket,
    "AWS::S3::BucketPolicy": s3_bucket_policy,
    "AWS::SSM::Parameter": ssm_parameter,
    "AWS::StepFunctions::StateMachine": stepfunctions_state_machine,
    "AWS::IoT::TopicRule": iot_topic_rule,
    "AWS::ApiGateway::RestApi": apigateway_rest_api,
    "AWS::ApiGateway::Resource": apigateway_resource,
    "AWS::ApiGateway::Method": apigateway_method,
    "AWS::ApiGateway::Deployment": apigateway_deployment,
    "AWS::ApiGateway::Stage": apigateway_stage,
    "AWS::ApiGateway::Account": apigateway_account,
    "AWS::ApiGateway::Model": apigateway_model,
    "AWS::ApiGateway::RequestValidator": apigateway_request_validator,
    "AWS::ApiGateway::Authorizer": apigateway_authorizer,
    "AWS::ApiGateway::UsagePlan": apigateway_usage_plan,
    "AWS::ApiGateway::ApiKey": apigateway_api_key,
    "AWS::ApiGateway::UsagePlanKey": apigateway_usage_plan_key,
    "AWS::ApiGateway::GatewayResponse": apigateway_gateway_response,
    # Two CDK custom resources whose effect is one API call: emulated rather than skipped.
    "Custom::LogRetention": custom_log_retention,
    "Custom::S3BucketNotifications": custom_s3_bucket_notifications,
}
