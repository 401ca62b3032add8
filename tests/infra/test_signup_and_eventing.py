"""The eventing and signup stacks as synthesized: bus, forwarding, rule, targets, outputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.helpers import referenced_id, resources

Templates = dict[str, dict[str, Any]]
EVENTING = "EventDriven-Eventing"
SIGNUP = "EventDriven-Signup"


def only(templates: Templates, stack: str, type_: str, name_part: str = "") -> tuple[str, dict[str, Any]]:
    found = [(i, p) for _, i, p in resources({stack: templates[stack]}, type_) if name_part in i]
    assert len(found) == 1, f"expected one {type_} matching {name_part!r} in {stack}, got {found}"
    return found[0]


def test_the_custom_bus_is_named_and_archived(templates: Templates) -> None:
    bus_id, bus = only(templates, EVENTING, "AWS::Events::EventBus")
    assert bus["Name"] == "EventDriven-bus"
    _, archive = only(templates, EVENTING, "AWS::Events::Archive")
    assert referenced_id(archive["SourceArn"]) == bus_id
    assert archive["RetentionDays"] == 7


def bus_policy_statements(templates: Templates) -> list[dict[str, Any]]:
    # The policy is the bus's own property: one document, no separate EventBusPolicy statements.
    _, bus = only(templates, EVENTING, "AWS::Events::EventBus")
    assert not list(resources({EVENTING: templates[EVENTING]}, "AWS::Events::EventBusPolicy"))
    return list(bus["Policy"]["Statement"])


def test_the_bus_policy_allows_only_this_account_to_publish(templates: Templates) -> None:
    [allow] = [s for s in bus_policy_statements(templates) if s["Effect"] == "Allow"]
    assert allow["Action"] == "events:PutEvents"
    assert ":root" in json.dumps(allow["Principal"]) and "AWS::AccountId" in json.dumps(allow["Principal"])
    assert "Condition" not in allow  # the tutorial's source stays open to the account's principals


@pytest.mark.parametrize(
    ("source", "producer_stack"),
    [
        ("myapp.orders", "EventDriven-Orders"),
        ("myapp.payments", "EventDriven-Orders"),
        ("OnlineTrial", "EventDriven-Trials"),
    ],
)
def test_the_bus_policy_lets_only_the_producing_stacks_roles_put_the_apps_sources(
    templates: Templates, source: str, producer_stack: str
) -> None:
    # Given the bus policy's Deny statements
    denies = [s for s in bus_policy_statements(templates) if s["Effect"] == "Deny"]
    # Then exactly one denies putting this source (if any entry carries it) to every principal
    [deny] = [d for d in denies if d["Condition"]["ForAnyValue:StringEquals"]["events:source"] == [source]]
    assert deny["Principal"] == {"AWS": "*"} and deny["Action"] == "events:PutEvents"
    # except the roles of the stack that produces it (CloudFormation names them `<Stack>-<Id>-<suffix>`),
    # and the redrive role (tests/infra/test_redrive.py)
    [pattern, _redrive_role] = deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    joined = "".join(p if isinstance(p, str) else json.dumps(p) for p in pattern["Fn::Join"][1])
    assert joined.endswith(f":role/{producer_stack}-*") and "AWS::AccountId" in joined
    assert set(deny["Condition"]) == {"ForAnyValue:StringEquals", "ArnNotLike"}


def test_the_tutorials_source_is_not_reserved(templates: Templates) -> None:
    denied = [s for s in bus_policy_statements(templates) if s["Effect"] == "Deny"]
    assert denied and "myapp.userservice" not in json.dumps(denied)


def test_no_role_is_named_so_generated_names_start_with_their_stack(templates: Templates) -> None:
    # The bus policy matches producers by `role/<StackName>-*`: that holds only for generated names.
    roles = list(resources(templates, "AWS::IAM::Role"))
    assert roles and [(stack, i) for stack, i, p in roles if "RoleName" in p] == []


def test_the_default_bus_forwards_only_the_tutorials_source_to_the_custom_bus(templates: Templates) -> None:
    bus_id, _ = only(templates, EVENTING, "AWS::Events::EventBus")
    _, rule = only(templates, EVENTING, "AWS::Events::Rule", "ForwardFromDefaultBus")
    assert rule["EventBusName"] == "default"
    assert rule["EventPattern"] == {"source": ["myapp.userservice"]}
    [target] = rule["Targets"]
    assert referenced_id(target["Arn"]) == bus_id
    assert referenced_id(target["RoleArn"])  # same-account bus targets need a role


def test_one_metrics_consumer_with_the_bus_sees_every_source_of_the_app(templates: Templates) -> None:
    # Given every rule and function of the app
    every_source = ["myapp.userservice", "myapp.orders", "myapp.payments", "OnlineTrial"]
    catch_all = [
        (s, p)
        for s, _, p in resources(templates, "AWS::Events::Rule")
        if p.get("EventPattern") == {"source": every_source}
    ]
    metrics = [
        (s, i, p)
        for s, i, p in resources(templates, "AWS::Lambda::Function")
        if p["Handler"].startswith("metrics.")
    ]
    # Then one rule on the custom bus sends every app source to the one metrics function, in eventing
    [(rule_stack, rule)] = catch_all
    [(function_stack, function_id, _)] = metrics
    assert rule_stack == function_stack == EVENTING
    assert [referenced_id(t["Arn"]) for t in rule["Targets"]] == [function_id]
    assert referenced_id(rule["EventBusName"])
    assert {"MetricsFunctionName", "MetricsLogGroupName"} <= set(templates[EVENTING]["Outputs"])
    # And its log group is new: the trials stack still holds /aws/lambda/EventDriven-metrics until its update
    [(_, _, group)] = [
        r for r in resources({EVENTING: templates[EVENTING]}, "AWS::Logs::LogGroup") if "Metrics" in r[1]
    ]
    assert group["LogGroupName"] == "/aws/lambda/EventDriven-eventing-metrics"


def test_the_signup_rule_matches_user_signup_on_the_custom_bus(templates: Templates) -> None:
    _, rule = only(templates, SIGNUP, "AWS::Events::Rule", "UserSignupRoute")
    assert rule["EventPattern"] == {"source": ["myapp.userservice"], "detail-type": ["user_signup"]}
    assert "Fn::ImportValue" in rule["EventBusName"]
    assert rule["State"] == "ENABLED"


def test_the_signup_rule_invokes_the_welcome_email_function_with_the_whole_event(
    templates: Templates,
) -> None:
    function_id, _ = only(templates, SIGNUP, "AWS::Lambda::Function", "WelcomeEmail")
    _, rule = only(templates, SIGNUP, "AWS::Events::Rule", "UserSignupRoute")
    [lambda_target] = [t for t in rule["Targets"] if referenced_id(t["Arn"]) == function_id]
    assert not {"Input", "InputPath", "InputTransformer"} & lambda_target.keys()


def test_the_signup_rule_notifies_people_with_a_readable_line(templates: Templates) -> None:
    topic_id, _ = only(templates, SIGNUP, "AWS::SNS::Topic", "SignupNotifications")
    _, rule = only(templates, SIGNUP, "AWS::Events::Rule", "UserSignupRoute")
    [sns_target] = [t for t in rule["Targets"] if referenced_id(t["Arn"]) == topic_id]
    transformer = sns_target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"detail-name": "$.detail.name", "detail-email": "$.detail.email"}
    assert json.loads(transformer["InputTemplate"]) == "New signup: <detail-name> <<detail-email>>"


def test_the_welcome_email_function_is_wired_to_its_table_sender_and_on_failure_dlq(
    templates: Templates,
) -> None:
    function_id, function = only(templates, SIGNUP, "AWS::Lambda::Function", "WelcomeEmail")
    table_id, _ = only(templates, SIGNUP, "AWS::DynamoDB::Table")
    variables = function["Environment"]["Variables"]
    assert variables["SENDER_EMAIL"] == "no-reply@example.com"
    assert referenced_id(variables["IDEMPOTENCY_TABLE_NAME"]) == table_id
    assert function["Handler"] == "welcome_email.handler.lambda_handler"
    _, config = only(templates, SIGNUP, "AWS::Lambda::EventInvokeConfig")
    assert referenced_id(config["FunctionName"]) == function_id
    queue_id = referenced_id(config["DestinationConfig"]["OnFailure"]["Destination"])
    assert queue_id and "WelcomeEmailFailures" in queue_id


def test_the_sender_identity_is_declared_and_the_function_may_send_only_from_it(templates: Templates) -> None:
    _identity_id, identity = only(templates, SIGNUP, "AWS::SES::EmailIdentity")
    assert identity["EmailIdentity"] == "no-reply@example.com"
    _, policy = only(templates, SIGNUP, "AWS::IAM::Policy", "WelcomeEmail")
    ses_statements = [s for s in policy["PolicyDocument"]["Statement"] if "ses:" in str(s["Action"])]
    assert [s["Action"] for s in ses_statements] == ["ses:SendEmail"]
    assert ses_statements and "*" not in json.dumps([s["Resource"] for s in ses_statements])
    assert "identity/" in json.dumps(ses_statements)


def test_the_welcome_email_function_gets_exactly_the_idempotency_calls_on_its_table(
    templates: Templates,
) -> None:
    table_id, _ = only(templates, SIGNUP, "AWS::DynamoDB::Table")
    _, policy = only(templates, SIGNUP, "AWS::IAM::Policy", "WelcomeEmail")
    dynamodb = [s for s in policy["PolicyDocument"]["Statement"] if "dynamodb:" in json.dumps(s["Action"])]
    assert [(sorted(s["Action"]), referenced_id(s["Resource"])) for s in dynamodb] == [
        (["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], table_id)
    ]


def test_stack_outputs_name_everything_a_user_or_test_needs(templates: Templates) -> None:
    assert set(templates[EVENTING]["Outputs"]) >= {
        "EventBusName",
        "EventBusArn",
        "ArchiveName",
        "ForwardingDlqUrl",
        "AlarmTopicArn",
    }
    assert set(templates[SIGNUP]["Outputs"]) >= {
        "WelcomeEmailFunctionName",
        "WelcomeEmailLogGroupName",
        "WelcomeEmailFailureDlqUrl",
        "SignupRuleDlqUrl",
        "SignupNotificationTopicArn",
        "IdempotencyTableName",
    }


def test_stateful_resources_keep_their_logical_ids(templates: Templates) -> None:
    # Renaming these replaces the resource on deploy: the bus, its archive, tables, queues, buckets.
    expected = {
        EVENTING: {
            "EventingBus2A37A3D7",
            "EventingBusArchive3B738617",
            "EventingForwardFromDefaultBusDlqQueue5835261C",
        },
        SIGNUP: {
            "UserSignupIdempotencyTable82F8B02B",
            "UserSignupWelcomeEmailFailuresQueueE7085D2B",
            "UserSignupUserSignupRouteDlqQueue3BECDE31",
        },
        "EventDriven-Orders": {
            "OrdersOrdersTable07F5E64F",
            "OrdersCustomersTableCFE37CEA",
            "OrdersInventoryTable8063C474",
            "OrdersPaymentsTable2A84C4DD",
            "OrdersLedgerTable8A98823D",
            "OrdersIdempotencyTableCCE5AF03",
            "OrdersPaymentQueueB0D6AC96",
            "OrdersPaymentDlqQueueD20072AE",
            "OrdersInvoices58DF65C7",
        },
    }
    for stack, ids in expected.items():
        assert ids <= set(templates[stack]["Resources"]), stack


def test_the_code_asset_holds_only_the_apps_code(cloud_assembly: Any, templates: Templates) -> None:
    _, function = only(templates, SIGNUP, "AWS::Lambda::Function", "WelcomeEmail")
    asset_hash = function["Code"]["S3Key"].removesuffix(".zip")
    asset_dir = cloud_assembly / f"asset.{asset_hash}"
    top_level = {p.name for p in asset_dir.iterdir()}
    assert {"shared", "welcome_email"} <= top_level
    assert not [p for p in asset_dir.rglob("*") if p.name in {"boto3", "pydantic", "aws_lambda_powertools"}]
    assert not list(asset_dir.rglob("__pycache__"))
