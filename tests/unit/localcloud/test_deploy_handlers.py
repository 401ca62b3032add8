"""Every resource handler runs against this moto, the types the app does not synthesize included."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.deploy.deployer import DeployResult, deploy
from localcloud.deploy.resources import HANDLERS
from tests.unit.localcloud.conftest import ACCOUNT, REGION, Client, Templates, write_assembly
from tests.unit.localcloud.test_deploy_flows import next_flows_template

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
LAMBDA_URI = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
MORE_TYPES: dict[str, Any] = {
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": TRUST,
                "Policies": [{"PolicyName": "inline", "PolicyDocument": READ}],
            },
        },
        "Managed": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {"PolicyDocument": READ, "Roles": [{"Ref": "Role"}]},
        },
        "Key": {
            "Type": "AWS::KMS::Key",
            "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}},
        },
        "KeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": "alias/more-types", "TargetKeyId": {"Ref": "Key"}},
        },
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "more-types-bus"}},
        "LegacyBusPolicy": {
            "Type": "AWS::Events::EventBusPolicy",
            "Properties": {
                "EventBusName": {"Ref": "Bus"},
                "StatementId": "partner",
                "Action": "events:PutEvents",
                "Principal": "111122223333",
            },
        },
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}},
        "Fifo": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "FifoQueue": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]},
                    "maxReceiveCount": 3,
                },
            },
        },
        "Topic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "FifoTopic": True,
                "Subscription": [{"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Fifo", "Arn"]}}],
            },
        },
        "Raw": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "Topic"},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": ["Fifo", "Arn"]},
                "RawMessageDelivery": "true",
            },
        },
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
                "Handler": "index.handler",
                "Runtime": "python3.13",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Timeout": "9",
            },
        },
        "Version": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
        "Live": {
            "Type": "AWS::Lambda::Alias",
            "Properties": {
                "FunctionName": {"Ref": "Fn"},
                "Name": "live",
                "FunctionVersion": {"Fn::GetAtt": ["Version", "Version"]},
            },
        },
        "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/more-types/group"}},
        "Errors": {
            "Type": "AWS::Logs::MetricFilter",
            "Properties": {
                "LogGroupName": {"Ref": "Group"},
                "FilterPattern": "ERROR",
                "MetricTransformations": [
                    {"MetricName": "Errors", "MetricNamespace": "MoreTypes", "MetricValue": "1"}
                ],
            },
        },
        "LogPolicy": {
            "Type": "AWS::Logs::ResourcePolicy",
            "Properties": {"PolicyName": "more-types", "PolicyDocument": READ},
        },
        "Global": {
            "Type": "AWS::DynamoDB::GlobalTable",
            "Properties": {
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
                "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
                "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
                "Replicas": [
                    {
                        "Region": "us-east-1",
                        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    }
                ],
            },
        },
        "Inbox": {"Type": "AWS::SQS::Queue"},
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "NotificationConfiguration": {
                    "QueueConfigurations": [
                        {
                            "Event": "s3:ObjectCreated:*",
                            "Queue": {"Fn::GetAtt": ["Inbox", "Arn"]},
                            "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "in/"}]}},
                        }
                    ]
                },
                "CorsConfiguration": {
                    "CorsRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "MaxAge": 60}]
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "tmp",
                            "Status": "Enabled",
                            "Prefix": "tmp/",
                            "NoncurrentVersionExpirationInDays": 3,
                            "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 30}],
                        }
                    ]
                },
            },
        },
        "Imported": {
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {
                "Body": {
                    "openapi": "3.0.1",
                    "info": {"title": "imported", "version": "1"},
                    "paths": {
                        "/items": {
                            "get": {
                                "x-amazon-apigateway-integration": {
                                    "type": "aws_proxy",
                                    "httpMethod": "POST",
                                    "uri": {"Fn::Sub": LAMBDA_URI},
                                }
                            }
                        }
                    },
                }
            },
        },
        "Api": {
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {"Name": "authorized", "EndpointConfiguration": {"Types": ["REGIONAL"]}},
        },
        "Authorizer": {
            "Type": "AWS::ApiGateway::Authorizer",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "Name": "token",
                "Type": "TOKEN",
                "AuthorizerUri": {"Fn::Sub": LAMBDA_URI},
                "IdentitySource": "method.request.header.Authorization",
            },
        },
        "Any": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                "HttpMethod": "ANY",
                "AuthorizationType": "CUSTOM",
                "AuthorizerId": {"Ref": "Authorizer"},
                "ApiKeyRequired": True,
                "Integration": {
                    "Type": "MOCK",
                    "RequestTemplates": {"application/json": '{"statusCode": 200}'},
                    "IntegrationResponses": [{"StatusCode": "200"}],
                },
                "MethodResponses": [
                    {"StatusCode": "200", "ResponseParameters": {"method.response.header.X": True}}
                ],
            },
        },
        "Deployment": {
            "Type": "AWS::ApiGateway::Deployment",
            "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": "v1"},
            "DependsOn": ["Any"],
        },
        "Unauthorized": {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResponseType": "DEFAULT_4XX",
                "ResponseParameters": {"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
            },
        },
        "Plan": {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {"Quota": {"Limit": 100, "Period": "DAY"}},
        },
        "ApiKey": {"Type": "AWS::ApiGateway::ApiKey", "Properties": {"Enabled": True}},
        "PlanKey": {
            "Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {"KeyId": {"Ref": "ApiKey"}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": "Plan"}},
        },
        "Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "ComparisonOperator": "GreaterThanThreshold",
                "EvaluationPeriods": "1",
                "Threshold": "0",
                "Metrics": [
                    {
                        "Id": "m",
                        "MetricStat": {
                            "Metric": {"MetricName": "Errors", "Namespace": "MoreTypes"},
                            "Period": 60,
                            "Stat": "Sum",
                        },
                    }
                ],
            },
        },
    }
}


@pytest.fixture(scope="module")
def more_types(tmp_path_factory: pytest.TempPathFactory, client: Client) -> DeployResult:
    cdk_out = write_assembly(tmp_path_factory.mktemp("more-types"), {"More-Types": MORE_TYPES})
    return deploy(cdk_out, client=client, account_id=ACCOUNT, region=REGION)


def test_every_handler_runs_against_this_moto(templates: Templates) -> None:
    # Given the app's templates and the synthetic ones of the deploy tests
    covered = {
        resource["Type"]
        for template in [*templates.values(), next_flows_template(), MORE_TYPES]
        for resource in template["Resources"].values()
    }
    # Then every type localcloud creates is deployed by some deploy test (a moto upgrade shows up at once)
    assert set(HANDLERS) <= covered, sorted(set(HANDLERS) - covered)


def test_the_less_common_types_deploy(more_types: DeployResult, client: Client) -> None:
    # Given the More-Types stack, deployed
    ids = more_types.physical_ids["More-Types"]
    # Then every resource was created
    assert set(ids) == set(MORE_TYPES["Resources"])
    # And FIFO names end in .fifo, the quoted timeout became a number, the alias points at version 1
    assert ids["Fifo"].endswith(".fifo") and ids["Topic"].endswith(".fifo")
    assert client("lambda").get_function(FunctionName=ids["Fn"])["Configuration"]["Timeout"] == 9
    assert client("lambda").get_alias(FunctionName=ids["Fn"], Name="live")["FunctionVersion"] == "1"
    # And the global table has its stream, TTL and point-in-time recovery
    table = client("dynamodb").describe_table(TableName=ids["Global"])["Table"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    assert (
        client("dynamodb").describe_time_to_live(TableName=ids["Global"])["TimeToLiveDescription"][
            "TimeToLiveStatus"
        ]
        == "ENABLED"
    )
    # And the bucket notifies the queue for its prefix
    [notification] = client("s3").get_bucket_notification_configuration(Bucket=ids["Bucket"])[
        "QueueConfigurations"
    ]
    assert notification["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "in/"}]
    # And the imported OpenAPI body and the authorized method are both routes for the proxy layer
    routes = {(r.rest_api_id, r.path, r.http_method): r for r in more_types.api_routes}
    assert (
        routes[(ids["Imported"], "/items", "GET")].function_arn
        == client("lambda").get_function(FunctionName=ids["Fn"])["Configuration"]["FunctionArn"]
    )
    secured = routes[(ids["Api"], "/", "ANY")]
    assert (secured.authorization_type, secured.authorizer_id, secured.api_key_required) == (
        "CUSTOM",
        ids["Authorizer"],
        True,
    )
