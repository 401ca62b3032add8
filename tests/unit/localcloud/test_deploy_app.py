"""The app's synthesized stacks land in moto as AWS would create them, outputs and all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.deploy.deployer import NOT_EMULATED, DeployedFunction, DeployResult, deploy
from tests.unit.localcloud.conftest import (
    ACCOUNT,
    EVENTING,
    REGION,
    SIGNUP,
    Client,
    Templates,
    physical_id,
)


@pytest.fixture(scope="module")
def app(cloud_assembly: Path, client: Client) -> tuple[DeployResult, list[DeployedFunction]]:
    """The app's cdk.out, deployed once for the module; with what on_function received."""
    received: list[DeployedFunction] = []
    result = deploy(
        cloud_assembly, client=client, account_id=ACCOUNT, region=REGION, on_function=received.append
    )
    print(f"\nlocalcloud deployer: {len(result.outputs)} stacks in {result.seconds:.2f} s")
    return result, received


@pytest.fixture(scope="module")
def result(app: tuple[DeployResult, list[DeployedFunction]]) -> DeployResult:
    return app[0]


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
