"""The cdk.out deployer: the app's stacks land in moto as AWS would create them; intrinsics; failures."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from localcloud.deployer import (
    NOT_EMULATED,
    DeployedFunction,
    DeployResult,
    IntrinsicError,
    UnsupportedResourceType,
    deploy,
)
from localcloud.resources import HANDLERS

Templates = dict[str, dict[str, Any]]
Client = Callable[[str], Any]
EVENTING = "EventDriven-Eventing"
SIGNUP = "EventDriven-Signup"
ACCOUNT = "123456789012"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """One moto server for the module (its backends are process-wide): every test uses its own names."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )


@pytest.fixture(scope="module")
def client(session: boto3.session.Session, endpoint: str) -> Client:
    clients: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=endpoint)
        return clients[service]

    return make


@pytest.fixture(scope="module")
def app(
    cloud_assembly: Path, session: boto3.session.Session, endpoint: str
) -> tuple[DeployResult, list[DeployedFunction]]:
    """The app's cdk.out, deployed once for the module; with what on_function received."""
    received: list[DeployedFunction] = []
    result = deploy(cloud_assembly, session=session, endpoint_url=endpoint, on_function=received.append)
    print(f"\nlocalcloud deployer: {len(result.outputs)} stacks in {result.seconds:.2f} s")
    return result, received


@pytest.fixture(scope="module")
def result(app: tuple[DeployResult, list[DeployedFunction]]) -> DeployResult:
    return app[0]


def physical_id(
    result: DeployResult, stack: str, type_: str, templates: Templates, name_part: str = ""
) -> str:
    [logical_id] = [
        lid
        for lid, resource in templates[stack]["Resources"].items()
        if resource["Type"] == type_ and name_part in lid
    ]
    return result.physical_ids[stack][logical_id]


def write_assembly(
    root: Path,
    templates: Templates,
    *,
    dependencies: dict[str, list[str]] | None = None,
    assets: dict[str, dict[str, str]] | None = None,
) -> Path:
    """A minimal cdk.out: manifest.json, the templates, one asset manifest and its asset directories."""
    root.mkdir(parents=True, exist_ok=True)
    artifacts: dict[str, Any] = {
        "Synthetic.assets": {"type": "cdk:asset-manifest", "properties": {"file": "Synthetic.assets.json"}}
    }
    for name, template in templates.items():
        (root / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "properties": {"templateFile": f"{name}.template.json"},
            "dependencies": [*(dependencies or {}).get(name, []), "Synthetic.assets"],
        }
    files: dict[str, Any] = {}
    for asset_hash, contents in (assets or {}).items():
        for relative, text in contents.items():
            (root / f"asset.{asset_hash}" / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / f"asset.{asset_hash}" / relative).write_text(text)
        files[asset_hash] = {
            "source": {"path": f"asset.{asset_hash}", "packaging": "zip"},
            "destinations": {"current": {"bucketName": "assets", "objectKey": f"{asset_hash}.zip"}},
        }
    (root / "Synthetic.assets.json").write_text(json.dumps({"version": "55.0.0", "files": files}))
    (root / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return root


# ---------------------------------------------------------------- the app's stacks


def test_both_stacks_deploy_with_every_output_resolved(result: DeployResult, templates: Templates) -> None:
    # Given the synthesized app, deployed once into moto (fixture)
    # Then every stack has exactly its template's outputs, each a real string
    assert set(result.outputs) == set(templates)
    for stack, template in templates.items():
        assert set(result.outputs[stack]) == set(template.get("Outputs", {}))
        for key, value in result.outputs[stack].items():
            assert isinstance(value, str) and value, f"{stack}.{key} = {value!r}"
            assert "Fn::" not in value and "{'Ref'" not in value
    # And nothing was skipped except what is skipped on purpose
    for _, _, type_ in result.skipped:
        assert type_.startswith("Custom::") or type_ in NOT_EMULATED
    # And the whole deployment stays fast (measured: ~1.2 s for both stacks)
    assert result.seconds < 10


def test_the_event_bus_output_names_the_bus_events_finds(result: DeployResult, client: Client) -> None:
    # Given the eventing stack's outputs
    outputs = result.outputs[EVENTING]
    # When EventBridge describes the bus they name
    bus = client("events").describe_event_bus(Name=outputs["EventBusName"])
    # Then it is the bus of the EventBusArn output, with the bus policy's statement
    assert bus["Arn"] == outputs["EventBusArn"]
    policy = json.loads(bus["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["cdk-OnlyThisAccountPublishes"]
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    # And the archive output names an archive of that bus
    archive = client("events").describe_archive(ArchiveName=outputs["ArchiveName"])
    assert archive["EventSourceArn"] == outputs["EventBusArn"]
    assert archive["RetentionDays"] == 7


def test_queue_url_outputs_are_real_queues_with_their_attributes(
    result: DeployResult, client: Client
) -> None:
    # Given every dead-letter queue URL the stacks output
    urls = [
        value
        for outputs in result.outputs.values()
        for key, value in outputs.items()
        if key.endswith("DlqUrl")
    ]
    assert len(urls) >= 3
    for url in urls:
        # When SQS reads the queue's attributes
        attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        # Then it is a DLQ as the template declares it, with its queue policy
        assert attributes["MessageRetentionPeriod"] == "1209600"
        assert attributes["SqsManagedSseEnabled"] == "true"
        assert json.loads(attributes["Policy"])["Statement"][0]["Effect"] == "Deny"


def test_the_signup_rule_is_on_the_custom_bus_with_its_pattern_and_both_targets(
    result: DeployResult, templates: Templates, client: Client
) -> None:
    # Given the rule's name (the stack outputs the bare name: `Fn::Select` over the "bus|rule" Ref)
    outputs = result.outputs[SIGNUP]
    rule_name = outputs["SignupRuleName"]
    bus = result.outputs[EVENTING]["EventBusName"]
    assert "|" not in rule_name
    template_rule = next(
        r["Properties"] for r in templates[SIGNUP]["Resources"].values() if r["Type"] == "AWS::Events::Rule"
    )
    # When EventBridge describes the rule and its targets
    rule = client("events").describe_rule(Name=rule_name, EventBusName=bus)
    targets = client("events").list_targets_by_rule(Rule=rule_name, EventBusName=bus)["Targets"]
    # Then the pattern and state are the template's
    assert json.loads(rule["EventPattern"]) == template_rule["EventPattern"]
    assert rule["State"] == "ENABLED"
    # And both targets carry their retry policy and DLQ; the topic target its input transformer
    function_arn = client("lambda").get_function(FunctionName=outputs["WelcomeEmailFunctionName"])[
        "Configuration"
    ]["FunctionArn"]
    dlq_arn = client("sqs").get_queue_attributes(
        QueueUrl=outputs["SignupRuleDlqUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    by_arn = {t["Arn"]: t for t in targets}
    assert set(by_arn) == {function_arn, outputs["SignupNotificationTopicArn"]}
    for target in targets:
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600}
        assert target["DeadLetterConfig"] == {"Arn": dlq_arn}
    transformer = by_arn[outputs["SignupNotificationTopicArn"]]["InputTransformer"]
    assert transformer == template_rule["Targets"][1]["InputTransformer"]


def test_the_forwarding_rule_is_on_the_default_bus(
    result: DeployResult, templates: Templates, client: Client
) -> None:
    # Given the forwarding rule's physical name (a rule on the default bus: its Ref is its name)
    rule_name = physical_id(result, EVENTING, "AWS::Events::Rule", templates, "ForwardFromDefaultBus")
    # When EventBridge lists the default bus's rules and the rule's targets
    rules = {r["Name"]: r for r in client("events").list_rules(EventBusName="default")["Rules"]}
    [target] = client("events").list_targets_by_rule(Rule=rule_name)["Targets"]
    # Then it forwards the app's sources to the custom bus through its role
    assert json.loads(rules[rule_name]["EventPattern"]) == {
        "source": ["myapp.userservice", "myapp.orders", "OnlineTrial"]
    }
    assert target["Arn"] == result.outputs[EVENTING]["EventBusArn"]
    role_name = target["RoleArn"].split("/")[-1]
    assert client("iam").get_role(RoleName=role_name)["Role"]["Arn"] == target["RoleArn"]
    assert client("iam").list_role_policies(RoleName=role_name)["PolicyNames"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 8 and "Arn" in target["DeadLetterConfig"]


def test_the_function_exists_with_its_environment_resolved(result: DeployResult, client: Client) -> None:
    # Given the function named by the signup stack's output
    outputs = result.outputs[SIGNUP]
    # When Lambda describes it
    config = client("lambda").get_function(FunctionName=outputs["WelcomeEmailFunctionName"])["Configuration"]
    # Then its environment holds only resolved strings, pointing at the deployed table
    variables = config["Environment"]["Variables"]
    assert all(isinstance(v, str) and not v.startswith("{") for v in variables.values())
    assert variables["IDEMPOTENCY_TABLE_NAME"] == outputs["IdempotencyTableName"]
    assert variables["SENDER_EMAIL"] == outputs["SenderEmail"]
    # And its settings are the template's; the unknown Powertools layer was dropped with a note
    assert (config["Runtime"], config["Handler"]) == ("python3.13", "welcome_email.handler.lambda_handler")
    assert (config["Timeout"], config["MemorySize"]) == (10, 256)
    assert client("iam").get_role(RoleName=config["Role"].split("/")[-1])
    assert any("Powertools" in note and "dropped" in note for note in result.notes)
    # And its async failures go to the failure DLQ
    invoke_config = client("lambda").get_function_event_invoke_config(FunctionName=config["FunctionName"])
    assert invoke_config["MaximumRetryAttempts"] == 2
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"].endswith(
        outputs["WelcomeEmailFailureDlqUrl"].rsplit("/", 1)[-1]
    )
    # And EventBridge may invoke it
    policy = json.loads(client("lambda").get_policy(FunctionName=config["FunctionName"])["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}


def test_on_function_received_the_code_dir(app: tuple[DeployResult, list[DeployedFunction]]) -> None:
    # Given what on_function received while the stacks deployed
    result, received = app
    # Then the welcome-email function came with its cdk.out asset directory
    [welcome] = [f for f in received if "WelcomeEmail" in f.logical_id]
    assert (welcome.code_dir / "welcome_email" / "handler.py").is_file()
    assert welcome.code_dir.is_absolute()
    assert welcome.function_name == result.outputs[SIGNUP]["WelcomeEmailFunctionName"]
    assert welcome.function_arn.endswith(f":function:{welcome.function_name}")
    assert welcome.log_group == result.outputs[SIGNUP]["WelcomeEmailLogGroupName"]
    assert received == result.functions


def test_ttl_and_pitr_are_enabled_on_the_idempotency_table(result: DeployResult, client: Client) -> None:
    # Given the idempotency table output
    table = result.outputs[SIGNUP]["IdempotencyTableName"]
    # When DynamoDB describes its TTL and backups (create_table alone drops both)
    ttl = client("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    backups = client("dynamodb").describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    # Then both are on, as the template declares
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_the_ses_identity_is_verified_and_can_send(result: DeployResult, client: Client) -> None:
    # Given the sender identity of the signup stack
    sender = result.outputs[SIGNUP]["SenderEmail"]
    # When SES is asked about it, and sends from it
    identity = client("sesv2").get_email_identity(EmailIdentity=sender)
    v1 = client("ses").get_identity_verification_attributes(Identities=[sender])["VerificationAttributes"]
    sent = client("sesv2").send_email(
        FromEmailAddress=sender,
        Destination={"ToAddresses": ["new.user@example.com"]},
        Content={"Simple": {"Subject": {"Data": "Welcome"}, "Body": {"Text": {"Data": "Hi"}}}},
    )
    # Then it is verified, and sending from it works
    assert identity["VerificationStatus"] == "SUCCESS"
    assert v1[sender]["VerificationStatus"] == "Success"
    assert sent["MessageId"]


def test_the_alarms_of_both_stacks_notify_the_imported_alarm_topic(
    result: DeployResult, templates: Templates, client: Client
) -> None:
    # Given the alarm topic exported by the eventing stack, and the alarms of both templates
    topic = result.outputs[EVENTING]["AlarmTopicArn"]
    names = {
        result.physical_ids[stack][lid]
        for stack, template in templates.items()
        for lid, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    # When CloudWatch describes them
    alarms = client("cloudwatch").describe_alarms(AlarmNames=sorted(names))["MetricAlarms"]
    # Then every one notifies that topic (Fn::ImportValue resolved across stacks)
    assert len(alarms) == len(names) > 0
    assert all(a["AlarmActions"] == [topic] for a in alarms)
    # And the topic is encrypted with the stack's rotating key
    key_arn = client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"]
    assert client("kms").get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"]
    # And the function's log group keeps 30 days
    group = result.outputs[SIGNUP]["WelcomeEmailLogGroupName"]
    [found] = client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert found["retentionInDays"] == 30


# ---------------------------------------------------------------- failures, on synthetic assemblies


def queue(**properties: Any) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": properties}


def test_an_unknown_type_fails_naming_it_before_anything_is_created(
    tmp_path: Path, session: boto3.session.Session, endpoint: str, client: Client
) -> None:
    # Given a stack whose second resource is of a type localcloud does not know
    cdk_out = write_assembly(
        tmp_path,
        {
            "Unknown-Type": {
                "Resources": {
                    "First": queue(QueueName="unknown-type-first"),
                    "Odd": {"Type": "AWS::Foo::Bar"},
                }
            }
        },
    )
    # When it is deployed
    with pytest.raises(UnsupportedResourceType) as raised:
        deploy(cdk_out, session=session, endpoint_url=endpoint)
    # Then the error names the type, the stack and the logical id
    assert (raised.value.type, raised.value.stack, raised.value.logical_id) == (
        "AWS::Foo::Bar",
        "Unknown-Type",
        "Odd",
    )
    assert "AWS::Foo::Bar" in str(raised.value) and "Unknown-Type/Odd" in str(raised.value)
    # And nothing was created
    assert "QueueUrls" not in client("sqs").list_queues(QueueNamePrefix="unknown-type-first")


def test_an_unknown_intrinsic_fails_naming_it_before_anything_is_created(
    tmp_path: Path, session: boto3.session.Session, endpoint: str, client: Client
) -> None:
    # Given a resource property that uses an intrinsic function localcloud does not resolve
    template = {
        "Resources": {"Q": queue(QueueName="bad-intrinsic", DelaySeconds={"Fn::Cidr": ["10.0.0.0/16", 2, 8]})}
    }
    cdk_out = write_assembly(tmp_path, {"Bad-Intrinsic": template})
    # When it is deployed, Then it fails naming the function and where it is
    with pytest.raises(IntrinsicError, match=r"Fn::Cidr in Bad-Intrinsic/Q"):
        deploy(cdk_out, session=session, endpoint_url=endpoint)
    assert "QueueUrls" not in client("sqs").list_queues(QueueNamePrefix="bad-intrinsic")


def test_custom_and_not_emulated_resources_are_skipped_and_the_rest_deploys(
    tmp_path: Path, session: boto3.session.Session, endpoint: str, client: Client
) -> None:
    # Given a custom resource, a type listed in NOT_EMULATED and a queue
    template = {
        "Resources": {
            "Custom": {"Type": "Custom::Thing", "Properties": {"ServiceToken": "arn:aws:lambda:x"}},
            "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
            "Q": queue(QueueName="skips-queue"),
        },
        "Outputs": {"CustomRef": {"Value": {"Ref": "Custom"}}},
    }
    cdk_out = write_assembly(tmp_path, {"Skips": template})
    # When it is deployed
    result = deploy(cdk_out, session=session, endpoint_url=endpoint)
    # Then the first two are recorded as skipped, and the queue exists
    assert result.skipped == [
        ("Skips", "Custom", "Custom::Thing"),
        ("Skips", "Handle", "AWS::CloudFormation::WaitConditionHandle"),
    ]
    assert (
        client("sqs").get_queue_url(QueueName="skips-queue")["QueueUrl"] == result.physical_ids["Skips"]["Q"]
    )
    # And a reference to the custom resource resolves to a placeholder, with a note
    assert result.outputs["Skips"]["CustomRef"] == "Custom-not-emulated"
    assert any("not-emulated Custom" in note for note in result.notes)


# ---------------------------------------------------------------- intrinsic functions


EXPORTER = {
    "Resources": {"Queue": queue(QueueName="intrinsics-exported")},
    "Outputs": {
        "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}, "Export": {"Name": "Exporter:QueueArn"}},
    },
}
IMPORTER = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "prod"},
        "Names": {"Type": "CommaDelimitedList", "Default": "a,b,c"},
    },
    "Mappings": {"Sizes": {"prod": {"Memory": "512"}, "dev": {"Memory": "128"}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        "ProdInUsEast1": {
            "Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]
        },
        "DevOrProd": {"Fn::Or": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
    },
    "Resources": {
        "Queue": queue(
            QueueName={"Fn::Sub": "${AWS::StackName}-${Env}-queue"},
            DelaySeconds={"Fn::If": ["IsDev", 5, {"Ref": "AWS::NoValue"}]},
        ),
        "DevOnly": {"Type": "AWS::SQS::Queue", "Condition": "IsDev", "Properties": {}},
    },
    "Outputs": {
        "SubString": {"Value": {"Fn::Sub": "${AWS::AccountId}/${AWS::Region}/${AWS::Partition}/${!Literal}"}},
        "SubAttribute": {"Value": {"Fn::Sub": "${Queue.QueueName} in ${AWS::URLSuffix}"}},
        "SubVariables": {
            "Value": {
                "Fn::Sub": ["${Greeting}, ${Env} (${Queue})", {"Greeting": {"Fn::Join": ["", ["hel", "lo"]]}}]
            }
        },
        "Join": {"Value": {"Fn::Join": ["-", ["a", {"Ref": "Env"}, {"Fn::GetAtt": "Queue.QueueName"}]]}},
        "Select": {"Value": {"Fn::Select": ["1", {"Ref": "Names"}]}},
        "Split": {
            "Value": {"Fn::Select": [2, {"Fn::Split": [":", {"Fn::ImportValue": "Exporter:QueueArn"}]}]}
        },
        "Imported": {"Value": {"Fn::ImportValue": {"Fn::Sub": "Exporter:QueueArn"}}},
        "If": {"Value": {"Fn::If": ["IsProd", "big", "small"]}},
        "IfNested": {"Value": {"Fn::If": ["ProdInUsEast1", {"Fn::If": ["DevOrProd", "yes", "no"]}, "no"]}},
        "FindInMap": {"Value": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}},
        "StackId": {"Value": {"Ref": "AWS::StackId"}},
        "Base64": {"Value": {"Fn::Base64": "hi"}},
        "DevOnlyOutput": {"Condition": "IsDev", "Value": {"Ref": "DevOnly"}},
    },
}
EXPECTED = {
    "SubString": f"{ACCOUNT}/us-east-1/aws/${{Literal}}",
    "SubAttribute": "Importer-prod-queue in amazonaws.com",
    "Join": "a-prod-Importer-prod-queue",
    "Select": "b",
    "Split": "sqs",
    "Imported": f"arn:aws:sqs:us-east-1:{ACCOUNT}:intrinsics-exported",
    "If": "big",
    "IfNested": "yes",
    "FindInMap": "512",
    "Base64": "aGk=",
}


@pytest.fixture(scope="module")
def intrinsics(
    tmp_path_factory: pytest.TempPathFactory, session: boto3.session.Session, endpoint: str
) -> DeployResult:
    """Two stacks, the second importing from the first, whose outputs exercise each intrinsic."""
    cdk_out = write_assembly(
        tmp_path_factory.mktemp("intrinsics"),
        {"Importer": IMPORTER, "Exporter": EXPORTER},
        dependencies={"Importer": ["Exporter"]},
    )
    return deploy(cdk_out, session=session, endpoint_url=endpoint)


@pytest.mark.parametrize(("output", "expected"), sorted(EXPECTED.items()))
def test_each_intrinsic_resolves_as_cloudformation_does(
    intrinsics: DeployResult, output: str, expected: str
) -> None:
    # Given the Importer stack deployed after its Exporter (manifest dependencies)
    # Then each output is what CloudFormation would resolve it to
    assert intrinsics.outputs["Importer"][output] == expected


def test_sub_with_variables_refs_conditions_and_no_value(intrinsics: DeployResult, client: Client) -> None:
    # Given the Importer stack, deployed with Env=prod
    outputs, ids = intrinsics.outputs["Importer"], intrinsics.physical_ids["Importer"]
    # Then Fn::Sub's variable map and ${Resource} refs resolve (a queue's Ref is its URL)
    assert outputs["SubVariables"] == f"hello, prod ({ids['Queue']})"
    assert ids["Queue"].endswith("/Importer-prod-queue")
    # And a false condition leaves its resource and output out
    assert "DevOnly" not in ids and "DevOnlyOutput" not in outputs
    # And AWS::NoValue removed DelaySeconds, so the queue has the default
    attributes = client("sqs").get_queue_attributes(QueueUrl=ids["Queue"], AttributeNames=["DelaySeconds"])
    assert attributes["Attributes"]["DelaySeconds"] == "0"
    # And the stack id is a CloudFormation stack ARN
    assert outputs["StackId"].startswith(f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/Importer/")


def test_an_import_of_an_unexported_name_fails_naming_it(
    tmp_path: Path, session: boto3.session.Session, endpoint: str
) -> None:
    # Given a stack importing a name nobody exports
    template = {"Resources": {}, "Outputs": {"X": {"Value": {"Fn::ImportValue": "Nobody:Exports"}}}}
    cdk_out = write_assembly(tmp_path, {"Lonely-Importer": template})
    # When it is deployed, Then the error names the export and the output
    with pytest.raises(
        IntrinsicError, match=r"Lonely-Importer output X: Fn::ImportValue of 'Nobody:Exports'"
    ):
        deploy(cdk_out, session=session, endpoint_url=endpoint)


# ---------------------------------------------------------------- the flows coming next


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
def next_flows(
    tmp_path_factory: pytest.TempPathFactory, session: boto3.session.Session, endpoint: str
) -> DeployResult:
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
    return deploy(cdk_out, session=session, endpoint_url=endpoint)


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
    assert function.layers == [ids["Layer"]]
    assert (function.layer_dirs[0] / "python" / "shared_lib.py").is_file()
    assert (function.code_dir / "orders" / "handler.py").is_file()
    assert function.environment == {"TABLE": ids["Table"], "PARAM": ids["Param"]}
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


# ---------------------------------------------------------------- every other handler, against this moto

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
def more_types(
    tmp_path_factory: pytest.TempPathFactory, session: boto3.session.Session, endpoint: str
) -> DeployResult:
    cdk_out = write_assembly(tmp_path_factory.mktemp("more-types"), {"More-Types": MORE_TYPES})
    return deploy(cdk_out, session=session, endpoint_url=endpoint)


def test_every_handler_runs_against_this_moto(templates: Templates) -> None:
    # Given the app's templates and the synthetic ones of this module
    covered = {
        resource["Type"]
        for template in [*templates.values(), next_flows_template(), MORE_TYPES]
        for resource in template["Resources"].values()
    }
    # Then every type localcloud creates is deployed by some test here (a moto upgrade shows up at once)
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
