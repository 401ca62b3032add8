"""What CDK synthesizes for the flows coming next (S3, streams, layers, Step Functions, REST API, IoT)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud.deploy.deployer import DeployResult, deploy
from tests.unit.localcloud.conftest import ACCOUNT, REGION, Client, write_assembly


def next_flows_template() -> dict[str, Any]:
    """What CDK synthesizes for S3+EventBridge, DynamoDB streams, SQS/stream mappings, a layer, SSM,
    Step Functions, a Lambda REST API and IoT (condensed from a real synth of those constructs)."""
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                    }
                ],
                "Version": "2012-10-17",
            },
            "ManagedPolicyArns": [
                {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
            ],
        },
    }
    fn_arn = {"Fn::GetAtt": ["Fn", "Arn"]}
    api = {"Ref": "Api"}
    return {
        "Resources": {
            "Role": role,
            "Layer": {
                "Type": "AWS::Lambda::LayerVersion",
                "Properties": {
                    "Content": {"S3Bucket": "assets", "S3Key": "layer1.zip"},
                    "CompatibleRuntimes": ["python3.13"],
                },
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"S3Bucket": {"Fn::Sub": "cdk-assets-${AWS::AccountId}"}, "S3Key": "code1.zip"},
                    "Handler": "orders.handler.handler",
                    "Runtime": "python3.13",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Layers": [{"Ref": "Layer"}],
                    "Environment": {"Variables": {"TABLE": {"Ref": "Table"}, "PARAM": {"Ref": "Param"}}},
                },
                "DependsOn": ["Role"],
            },
            "FnLogRetention": {
                "Type": "Custom::LogRetention",
                "Properties": {
                    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
                    "LogGroupName": {"Fn::Join": ["", ["/aws/lambda/", {"Ref": "Fn"}]]},
                    "RetentionInDays": 7,
                },
            },
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "AttributeDefinitions": [
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "g", "AttributeType": "S"},
                    ],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "byG",
                            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                    ],
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                    "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
                },
            },
            "StreamMapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": {"Fn::GetAtt": ["Table", "StreamArn"]},
                    "FunctionName": {"Ref": "Fn"},
                    "StartingPosition": "TRIM_HORIZON",
                    "BatchSize": 10,
                    "FilterCriteria": {"Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]},
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                },
            },
            "Fifo": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"FifoQueue": True, "ContentBasedDeduplication": True},
            },
            "QueueMapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": {"Fn::GetAtt": ["Fifo", "Arn"]},
                    "FunctionName": {"Ref": "Fn"},
                    "BatchSize": 5,
                },
            },
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "LifecycleConfiguration": {"Rules": [{"ExpirationInDays": 30, "Status": "Enabled"}]},
                },
            },
            "BucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": "Bucket"},
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                "Effect": "Deny",
                                "Principal": {"AWS": "*"},
                                "Resource": [
                                    {"Fn::GetAtt": ["Bucket", "Arn"]},
                                    {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]},
                                ],
                            }
                        ],
                        "Version": "2012-10-17",
                    },
                },
            },
            "BucketNotifications": {
                "Type": "Custom::S3BucketNotifications",
                "Properties": {
                    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
                    "BucketName": {"Ref": "Bucket"},
                    "NotificationConfiguration": {"EventBridgeConfiguration": {}},
                    "Managed": True,
                },
                "DependsOn": ["BucketPolicy"],
            },
            "Uploads": {"Type": "AWS::SQS::Queue"},
            "UploadsRule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventPattern": {
                        "source": ["aws.s3"],
                        "detail": {"bucket": {"name": [{"Ref": "Bucket"}]}},
                    },
                    "State": "ENABLED",
                    "Targets": [{"Arn": {"Fn::GetAtt": ["Uploads", "Arn"]}, "Id": "Target0"}],
                },
            },
            "Param": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Value": {"Ref": "Table"}},
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "DefinitionString": {
                        "Fn::Join": [
                            "",
                            [
                                '{"StartAt":"Invoke","States":{"Invoke":{"Type":"Task","Resource":"arn:',
                                {"Ref": "AWS::Partition"},
                                ':states:::lambda:invoke","Parameters":{"FunctionName":"',
                                fn_arn,
                                '","Payload.$":"$"},"Next":"Put"},"Put":{"Type":"Task","Resource":"${PutItem}","End":true}}}',
                            ],
                        ]
                    },
                    "DefinitionSubstitutions": {
                        "PutItem": {"Fn::Sub": "arn:${AWS::Partition}:states:::dynamodb:putItem"}
                    },
                    "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                },
            },
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "orders-api"}},
            "ApiAccount": {
                "Type": "AWS::ApiGateway::Account",
                "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["Role", "Arn"]}},
            },
            "Orders": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                    "PathPart": "orders",
                    "RestApiId": api,
                },
            },
            "Order": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {"ParentId": {"Ref": "Orders"}, "PathPart": "{id}", "RestApiId": api},
            },
            "Model": {
                "Type": "AWS::ApiGateway::Model",
                "Properties": {
                    "ContentType": "application/json",
                    "RestApiId": api,
                    "Schema": {"type": "object"},
                },
            },
            "Validator": {
                "Type": "AWS::ApiGateway::RequestValidator",
                "Properties": {"RestApiId": api, "ValidateRequestBody": True},
            },
            "OrdersPost": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "AuthorizationType": "NONE",
                    "HttpMethod": "POST",
                    "ResourceId": {"Ref": "Orders"},
                    "RestApiId": api,
                    "RequestModels": {"application/json": {"Ref": "Model"}},
                    "RequestValidatorId": {"Ref": "Validator"},
                    "Integration": {
                        "IntegrationHttpMethod": "POST",
                        "Type": "AWS_PROXY",
                        "Uri": {
                            "Fn::Join": [
                                "",
                                [
                                    "arn:",
                                    {"Ref": "AWS::Partition"},
                                    ":apigateway:us-east-1:lambda:path/2015-03-31/functions/",
                                    fn_arn,
                                    "/invocations",
                                ],
                            ]
                        },
                    },
                },
            },
            "OrderGet": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "AuthorizationType": "NONE",
                    "HttpMethod": "GET",
                    "ResourceId": {"Ref": "Order"},
                    "RestApiId": api,
                    "Integration": {
                        "IntegrationHttpMethod": "POST",
                        "Type": "AWS_PROXY",
                        "Uri": {
                            "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path"
                            "/2015-03-31/functions/${Fn.Arn}/invocations"
                        },
                    },
                },
            },
            "Deployment": {
                "Type": "AWS::ApiGateway::Deployment",
                "Properties": {"RestApiId": api},
                "DependsOn": ["OrdersPost", "OrderGet"],
            },
            "Stage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {"DeploymentId": {"Ref": "Deployment"}, "RestApiId": api, "StageName": "prod"},
                "DependsOn": ["ApiAccount"],
            },
            "Plan": {
                "Type": "AWS::ApiGateway::UsagePlan",
                "Properties": {
                    "ApiStages": [{"ApiId": api, "Stage": {"Ref": "Stage"}, "Throttle": {}}],
                    "Throttle": {"BurstLimit": 2, "RateLimit": 10},
                },
            },
            "Telemetry": {
                "Type": "AWS::IoT::TopicRule",
                "Properties": {
                    "TopicRulePayload": {
                        "Sql": "SELECT * FROM 'devices/+/telemetry'",
                        "Actions": [{"Lambda": {"FunctionArn": fn_arn}}],
                        "RuleDisabled": False,
                        "AwsIotSqlVersion": "2016-03-23",
                    }
                },
            },
            "Dashboard": {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {
                    "DashboardBody": {
                        "Fn::Join": ["", ['{"widgets":[],"region":"', {"Ref": "AWS::Region"}, '"}']]
                    }
                },
            },
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:..."}},
        },
        "Outputs": {
            "ApiUrl": {
                "Value": {
                    "Fn::Join": [
                        "",
                        [
                            "https://",
                            api,
                            ".execute-api.",
                            {"Ref": "AWS::Region"},
                            ".",
                            {"Ref": "AWS::URLSuffix"},
                            "/",
                            {"Ref": "Stage"},
                            "/",
                        ],
                    ]
                }
            },
            "StreamArn": {"Value": {"Fn::GetAtt": ["Table", "StreamArn"]}},
        },
    }


@pytest.fixture(scope="module")
def next_flows(tmp_path_factory: pytest.TempPathFactory, client: Client) -> DeployResult:
    cdk_out = write_assembly(
        tmp_path_factory.mktemp("next-flows"),
        {"Next-Flows": next_flows_template()},
        assets={
            "code1": {
                "orders/__init__.py": "",
                "orders/handler.py": "def handler(event, context):\n    return event\n",
            },
            "layer1": {"python/shared_lib.py": "VALUE = 1\n"},
        },
    )
    return deploy(cdk_out, client=client, account_id=ACCOUNT, region=REGION)


def test_the_rest_api_routes_are_recorded_for_the_proxy_layer(
    next_flows: DeployResult, client: Client
) -> None:
    # Given the deployed REST API
    ids = next_flows.physical_ids["Next-Flows"]
    function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{ids['Fn']}"
    # Then each method is recorded with its full path, method and the Lambda of its integration
    routes = {(r.path, r.http_method): r for r in next_flows.api_routes if r.rest_api_id == ids["Api"]}
    assert set(routes) == {("/orders", "POST"), ("/orders/{id}", "GET")}
    assert {r.function_arn for r in routes.values()} == {function_arn}
    assert {r.integration_type for r in routes.values()} == {"AWS_PROXY"}
    # And API Gateway holds the same resources, the stage and the usage plan
    paths = {r["path"] for r in client("apigateway").get_resources(restApiId=ids["Api"])["items"]}
    assert paths == {"/", "/orders", "/orders/{id}"}
    assert (
        client("apigateway").get_stage(restApiId=ids["Api"], stageName="prod")["deploymentId"]
        == ids["Deployment"]
    )
    assert (
        next_flows.outputs["Next-Flows"]["ApiUrl"]
        == f"https://{ids['Api']}.execute-api.us-east-1.amazonaws.com/prod/"
    )


def test_the_state_machine_definition_is_resolved_and_substituted(
    next_flows: DeployResult, client: Client
) -> None:
    # Given the deployed state machine (Ref of a state machine is its ARN)
    arn = next_flows.physical_ids["Next-Flows"]["Machine"]
    # When Step Functions describes it
    definition = json.loads(client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"])
    # Then the function ARN is joined in and ${PutItem} substituted
    fn = next_flows.physical_ids["Next-Flows"]["Fn"]
    assert definition["States"]["Invoke"]["Parameters"]["FunctionName"].endswith(f":function:{fn}")
    assert definition["States"]["Put"]["Resource"] == "arn:aws:states:::dynamodb:putItem"


def test_streams_ttl_mappings_and_layers_are_wired(next_flows: DeployResult, client: Client) -> None:
    # Given the deployed table, queue, function and layer
    ids, outputs = next_flows.physical_ids["Next-Flows"], next_flows.outputs["Next-Flows"]
    # Then the table streams new and old images, with TTL on
    table = client("dynamodb").describe_table(TableName=ids["Table"])["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert outputs["StreamArn"] == table["LatestStreamArn"]
    ttl = client("dynamodb").describe_time_to_live(TableName=ids["Table"])["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    # And the function reads the stream (with its filter) and the FIFO queue
    mappings = client("lambda").list_event_source_mappings(FunctionName=ids["Fn"])["EventSourceMappings"]
    by_source = {m["EventSourceArn"]: m for m in mappings}
    assert set(by_source) == {
        table["LatestStreamArn"],
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:{ids['Fifo'].rsplit('/', 1)[-1]}",
    }
    assert by_source[table["LatestStreamArn"]]["FilterCriteria"] == {
        "Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]
    }
    assert ids["Fifo"].endswith(".fifo")
    # And the function got the template's layer, whose code dir travels with it
    [function] = next_flows.functions
    config = client("lambda").get_function_configuration(FunctionName=ids["Fn"])
    assert [layer["Arn"] for layer in config["Layers"]] == [ids["Layer"]]
    assert (function.layer_dirs[0] / "python" / "shared_lib.py").is_file()
    assert (function.code_dir / "orders" / "handler.py").is_file()
    assert config["Environment"]["Variables"] == {"TABLE": ids["Table"], "PARAM": ids["Param"]}
    # And CDK's log-retention custom resource was emulated
    [group] = client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{ids['Fn']}")["logGroups"]
    assert group["retentionInDays"] == 7


def test_the_bucket_sends_its_events_to_eventbridge(next_flows: DeployResult, client: Client) -> None:
    # Given the bucket, its EventBridge notifications (CDK's custom resource) and a rule on the default bus
    ids = next_flows.physical_ids["Next-Flows"]
    # When an object is written (the enforceSSL statement would make moto deny it: not put, with a note)
    client("s3").put_object(Bucket=ids["Bucket"], Key="orders/1.json", Body=b"{}")
    # Then EventBridge delivered "Object Created" through the rule to the queue
    messages = client("sqs").receive_message(QueueUrl=ids["Uploads"], WaitTimeSeconds=1).get("Messages", [])
    assert [json.loads(m["Body"])["detail"]["object"]["key"] for m in messages] == ["orders/1.json"]
    assert any("BucketPolicy" in note and "Condition" in note for note in next_flows.notes)


def test_ssm_iot_dashboard_and_metadata(next_flows: DeployResult, client: Client) -> None:
    # Given the rest of the next flows' resources
    ids = next_flows.physical_ids["Next-Flows"]
    # Then the parameter (CloudFormation-style generated name) holds the table name
    assert ids["Param"].startswith("CFN-Param-")
    assert client("ssm").get_parameter(Name=ids["Param"])["Parameter"]["Value"] == ids["Table"]
    # And the IoT rule calls the function
    rule = client("iot").get_topic_rule(ruleName=ids["Telemetry"])["rule"]
    assert rule["actions"] == [
        {"lambda": {"functionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{ids['Fn']}"}}
    ]
    # And the dashboard exists; CDK metadata is neither created nor skipped
    assert (
        client("cloudwatch").get_dashboard(DashboardName=ids["Dashboard"])["DashboardName"]
        == ids["Dashboard"]
    )
    assert "CDKMetadata" not in ids and next_flows.skipped == []
