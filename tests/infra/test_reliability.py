"""The reliability and security properties of shared/design/reliability.md, checked on every template."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.helpers import as_list, referenced_id, resource, resources, statements

Templates = dict[str, dict[str, Any]]
CURRENT_PYTHON_RUNTIMES = {"python3.13", "python3.14"}


def rule_targets(templates: Templates) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (stack, rule_id, target)
        for stack, rule_id, props in resources(templates, "AWS::Events::Rule")
        for target in props.get("Targets", [])
    ]


def test_there_are_rules_to_check(templates: Templates) -> None:
    assert len(rule_targets(templates)) >= 3


def test_p1_every_rule_target_has_a_standard_queue_as_dlq(templates: Templates) -> None:
    for stack, rule_id, target in rule_targets(templates):
        queue_id = referenced_id(target.get("DeadLetterConfig", {}).get("Arn"))
        assert queue_id, f"{rule_id}/{target['Id']} has no DeadLetterConfig"
        queue = resource(templates, stack, queue_id)
        assert queue["Type"] == "AWS::SQS::Queue"
        assert not queue.get("Properties", {}).get("FifoQueue"), f"{queue_id} must be a standard queue"


def test_p2_every_rule_target_has_an_explicit_bounded_retry_policy(templates: Templates) -> None:
    for _, rule_id, target in rule_targets(templates):
        policy = target.get("RetryPolicy")
        assert policy, f"{rule_id}/{target['Id']} has no RetryPolicy"
        assert 0 <= policy["MaximumRetryAttempts"] <= 185
        assert 60 <= policy["MaximumEventAgeInSeconds"] <= 86400


def test_p3_each_rule_dlq_lets_only_that_rule_send(templates: Templates) -> None:
    for stack, rule_id, target in rule_targets(templates):
        queue_id = referenced_id(target["DeadLetterConfig"]["Arn"])
        allowed = [
            statement
            for _, _, policy in resources({stack: templates[stack]}, "AWS::SQS::QueuePolicy")
            if queue_id in {referenced_id(q) for q in policy["Queues"]}
            for statement in statements(policy["PolicyDocument"])
            if statement.get("Principal") == {"Service": "events.amazonaws.com"}
            and statement["Effect"] == "Allow"
        ]
        assert allowed, f"no queue policy lets EventBridge send to {queue_id}"
        source_arns = [referenced_id(s["Condition"]["ArnEquals"]["aws:SourceArn"]) for s in allowed]
        assert rule_id in source_arns, f"{queue_id}'s policy is not conditioned on rule {rule_id}"


def test_p4_rules_use_the_custom_bus_except_the_forwarder_and_the_bus_is_not_open(
    templates: Templates,
) -> None:
    for _, rule_id, props in resources(templates, "AWS::Events::Rule"):
        if "ScheduleExpression" in props:
            # Schedules exist on the default bus only; they carry no event to forward.
            assert "EventPattern" not in props and props.get("EventBusName") in (None, "default"), rule_id
        elif props.get("EventBusName") == "default":
            # Only forwarders live on the default bus: every target is the custom bus.
            assert all(
                "EventingBus" in json.dumps(t["Arn"]) and t.get("RoleArn") for t in props["Targets"]
            ), rule_id
        else:
            assert isinstance(props.get("EventBusName"), dict), f"{rule_id} must name the custom bus"
    policies = [p.get("Policy") for _, _, p in resources(templates, "AWS::Events::EventBus")]
    assert policies and all(policies)
    for statement in [s for policy in policies for s in policy["Statement"]]:
        principal = statement["Principal"]
        if statement["Effect"] == "Deny":
            # A Deny may name everyone: it narrows (the app's sources to their producers), never opens.
            assert statement["Condition"], "an unconditioned Deny would close the bus"
            continue
        assert principal != "*" and principal != {"AWS": "*"}
        assert "Condition" in statement or ":root" in str(principal)


def test_p5_every_pattern_names_a_source(templates: Templates) -> None:
    for _, rule_id, props in resources(templates, "AWS::Events::Rule"):
        if "ScheduleExpression" in props:
            continue  # a schedule has no pattern: it fires on time
        sources = props["EventPattern"].get("source")
        assert sources and all(isinstance(s, str) and s for s in sources), f"{rule_id} has no source"


def test_p6_every_function_sets_timeout_memory_current_runtime_and_tracing(templates: Templates) -> None:
    functions = list(resources(templates, "AWS::Lambda::Function"))
    assert functions
    for _, function_id, props in functions:
        assert props["Timeout"] and props["MemorySize"], function_id
        assert props["Runtime"] in CURRENT_PYTHON_RUNTIMES, function_id
        assert props["TracingConfig"] == {"Mode": "Active"}, function_id
        assert props["LoggingConfig"]["LogFormat"] == "JSON", function_id
        assert props["Architectures"] == ["arm64"], function_id


def test_p6_functions_take_powertools_from_the_public_layer(templates: Templates) -> None:
    for _, function_id, props in resources(templates, "AWS::Lambda::Function"):
        layers = str(props["Layers"])
        assert "017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64" in layers, function_id


def async_function_ids(templates: Templates) -> set[str]:
    """Functions that EventBridge invokes (asynchronously) as a rule target."""
    return {
        referenced_id(target["Arn"]) or ""
        for _, _, target in rule_targets(templates)
        if referenced_id(target["Arn"]) and "Function" in (referenced_id(target["Arn"]) or "")
    }


def test_p7_every_async_function_has_on_failure_and_bounded_retries(templates: Templates) -> None:
    targets = async_function_ids(templates)
    assert targets
    configs = {
        referenced_id(props["FunctionName"]): props
        for _, _, props in resources(templates, "AWS::Lambda::EventInvokeConfig")
    }
    for function_id in targets:
        config = configs.get(function_id)
        assert config, f"{function_id} has no EventInvokeConfig"
        assert config["DestinationConfig"]["OnFailure"]["Destination"]
        assert 0 <= config["MaximumRetryAttempts"] <= 2
        assert config["MaximumEventAgeInSeconds"] <= 21600


def test_p12_dlqs_keep_messages_14_days(templates: Templates) -> None:
    dlq_ids = {referenced_id(t["DeadLetterConfig"]["Arn"]) for _, _, t in rule_targets(templates)}
    for _, _, props in resources(templates, "AWS::Lambda::EventInvokeConfig"):
        dlq_ids.add(referenced_id(props["DestinationConfig"]["OnFailure"]["Destination"]))
    assert dlq_ids
    for _stack, queue_id, props in resources(templates, "AWS::SQS::Queue"):
        if queue_id in dlq_ids:
            assert props["MessageRetentionPeriod"] == 14 * 24 * 3600, queue_id


def test_p13_queues_and_topics_are_encrypted_and_deny_insecure_transport(templates: Templates) -> None:
    encrypted = [
        *(
            (s, q, p.get("SqsManagedSseEnabled") or "KmsMasterKeyId" in p, "AWS::SQS::QueuePolicy", "Queues")
            for s, q, p in resources(templates, "AWS::SQS::Queue")
        ),
        *(
            (s, t, "KmsMasterKeyId" in p, "AWS::SNS::TopicPolicy", "Topics")
            for s, t, p in resources(templates, "AWS::SNS::Topic")
        ),
    ]
    assert encrypted
    for stack, logical_id, is_encrypted, policy_type, key in encrypted:
        assert is_encrypted, f"{logical_id} is not encrypted"
        denies = [
            statement
            for _, _, policy in resources({stack: templates[stack]}, policy_type)
            if logical_id in {referenced_id(r) for r in policy[key]}
            for statement in statements(policy["PolicyDocument"])
            if statement["Effect"] == "Deny"
            and statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert denies, f"{logical_id} does not deny aws:SecureTransport=false"


def alarmed(templates: Templates) -> list[dict[str, Any]]:
    return [props for _, _, props in resources(templates, "AWS::CloudWatch::Alarm")]


def test_p14_every_dlq_has_a_depth_alarm_with_an_action(templates: Templates) -> None:
    dlq_ids = {referenced_id(t["DeadLetterConfig"]["Arn"]) for _, _, t in rule_targets(templates)}
    for _, _, props in resources(templates, "AWS::Lambda::EventInvokeConfig"):
        dlq_ids.add(referenced_id(props["DestinationConfig"]["OnFailure"]["Destination"]))
    for queue_id in dlq_ids:
        alarms = [
            a
            for a in alarmed(templates)
            if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
            and any(
                d["Name"] == "QueueName" and referenced_id(d["Value"]) == queue_id for d in a["Dimensions"]
            )
        ]
        assert alarms, f"DLQ {queue_id} has no depth alarm"
        assert all(a["AlarmActions"] and a["Threshold"] == 1 for a in alarms)


def rule_name_dimension(value: Any) -> str | None:
    """The rule a RuleName dimension names: a Ref, or on a custom bus the name part of `bus|rule`."""
    if isinstance(value, dict) and "Fn::Select" in value:
        index, split = value["Fn::Select"]
        delimiter, source = split["Fn::Split"]
        assert (index, delimiter) == (1, "|"), value
        return referenced_id(source)
    return referenced_id(value)


@pytest.mark.parametrize("metric", ["FailedInvocations", "InvocationsSentToDlq"])
def test_p14_every_rule_is_alarmed_on_delivery_failures(templates: Templates, metric: str) -> None:
    for _, rule_id, props in resources(templates, "AWS::Events::Rule"):
        on_custom_bus = props.get("EventBusName", "default") != "default"  # no name: the default bus
        alarms = [
            a
            for a in alarmed(templates)
            if a["MetricName"] == metric
            and a["Namespace"] == "AWS/Events"
            and any(
                d["Name"] == "RuleName" and rule_name_dimension(d["Value"]) == rule_id
                for d in a["Dimensions"]
            )
        ]
        assert alarms, f"rule {rule_id} has no {metric} alarm"
        for alarm in alarms:
            # Ref of a rule on a custom bus is `bus|rule`; the metric's dimension is the bare name.
            value = next(d["Value"] for d in alarm["Dimensions"] if d["Name"] == "RuleName")
            assert ("Fn::Select" in value) is on_custom_bus, rule_id


def test_p15_idempotency_tables_follow_the_powertools_schema(templates: Templates) -> None:
    tables = [(s, t, p) for s, t, p in resources(templates, "AWS::DynamoDB::Table") if "Idempotency" in t]
    assert tables
    for _, table_id, props in tables:
        assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}], table_id
        assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["SSESpecification"]["SSEEnabled"] is True


def test_p17_idempotency_outlives_the_producers_retry_windows(templates: Templates) -> None:
    # The longest an event can still arrive: EventBridge's retry window plus Lambda's async window.
    longest_rule_window = max(
        t["RetryPolicy"]["MaximumEventAgeInSeconds"] for _, _, t in rule_targets(templates)
    )
    longest_async_window = max(
        p["MaximumEventAgeInSeconds"] for _, _, p in resources(templates, "AWS::Lambda::EventInvokeConfig")
    )
    for _, function_id, props in resources(templates, "AWS::Lambda::Function"):
        expiry = props["Environment"]["Variables"].get("IDEMPOTENCY_EXPIRY_SECONDS")
        if expiry is not None:
            assert int(expiry) >= longest_rule_window + longest_async_window, function_id


def all_policy_statements(templates: Templates) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for type_ in ("AWS::IAM::Policy", "AWS::IAM::Role"):
        for _, logical_id, props in resources(templates, type_):
            documents = [props["PolicyDocument"]] if "PolicyDocument" in props else []
            documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
            found += [(logical_id, s) for d in documents for s in statements(d)]
    return found


# Actions AWS accepts only with Resource "*": X-Ray, Step Functions' log delivery, IoT's endpoint
# lookup, and ListStreams (which a DynamoDB stream event source needs).
STAR_ONLY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "iot:DescribeEndpoint",
    "dynamodb:ListStreams",
}


def test_p25_no_wildcard_actions_and_wildcard_resources_only_where_aws_requires(templates: Templates) -> None:
    found = all_policy_statements(templates)
    assert found
    for logical_id, statement in found:
        actions = as_list(statement.get("Action", []))
        assert not any(a == "*" or a.endswith(":*") for a in actions), f"{logical_id}: {actions}"
        if "*" in as_list(statement.get("Resource", [])):
            allowed = all(a.startswith("xray:") or a in STAR_ONLY_ACTIONS for a in actions)
            assert allowed, f"{logical_id} uses Resource '*' for {actions}"


def test_p25_no_aws_managed_policies(templates: Templates) -> None:
    for _, role_id, props in resources(templates, "AWS::IAM::Role"):
        assert not props.get("ManagedPolicyArns"), role_id


def test_p26_every_log_group_has_retention_and_every_function_its_own_group(templates: Templates) -> None:
    groups = {logical_id: props for _, logical_id, props in resources(templates, "AWS::Logs::LogGroup")}
    assert groups and all(props.get("RetentionInDays") for props in groups.values())
    for _, function_id, props in resources(templates, "AWS::Lambda::Function"):
        assert referenced_id(props["LoggingConfig"]["LogGroup"]) in groups, function_id


def test_no_custom_resources_are_needed_to_deploy(templates: Templates) -> None:
    # Custom resources (e.g. Custom::LogRetention) need Lambda-backed providers; the app avoids them.
    for stack, template in templates.items():
        types = {r["Type"] for r in template["Resources"].values()}
        assert not [
            t for t in types if t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource"
        ], stack


def service_principal_allows(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s for s in statements(document) if s["Effect"] == "Allow" and "Service" in (s.get("Principal") or {})
    ]


def test_key_policies_grant_service_principals_only_with_source_conditions(templates: Templates) -> None:
    # Given every KMS key's policy
    keys = list(resources(templates, "AWS::KMS::Key"))
    assert keys
    for stack, key_id, props in keys:
        for statement in service_principal_allows(props["KeyPolicy"]):
            # Then a service may use the key only for this account's own resources (no confused deputy)
            keys_in = {name for operator in statement.get("Condition", {}).values() for name in operator}
            assert {"aws:SourceAccount", "aws:SourceArn"} <= keys_in, f"{stack}/{key_id}: {statement}"


def test_topic_policies_let_no_service_publish_without_a_source_arn(templates: Templates) -> None:
    # EventBridge publishes to the app's topics with a role of the rule's stack (no service principal).
    policies = list(resources(templates, "AWS::SNS::TopicPolicy"))
    assert policies
    for stack, policy_id, props in policies:
        for statement in service_principal_allows(props["PolicyDocument"]):
            assert "aws:SourceArn" in json.dumps(statement.get("Condition", {})), f"{stack}/{policy_id}"


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_every_state_machine_alarms_on_executions_that_did_not_finish(
    templates: Templates, metric: str
) -> None:
    # Given every state machine and every alarm of the app
    machines = {(stack, i) for stack, i, _ in resources(templates, "AWS::StepFunctions::StateMachine")}
    alarmed = {
        (stack, referenced_id(dimension["Value"]))
        for stack, _, alarm in resources(templates, "AWS::CloudWatch::Alarm")
        if alarm.get("MetricName") == metric
        and alarm.get("Namespace") == "AWS/States"
        and alarm.get("AlarmActions")
        for dimension in alarm.get("Dimensions", [])
        if dimension["Name"] == "StateMachineArn"
    }
    # Then each has an alarm on this metric that notifies someone
    assert machines and machines <= alarmed, machines - alarmed


def test_no_state_machine_logs_its_execution_data(templates: Templates) -> None:
    # Orders and trials carry customer ids and e-mail addresses: level ALL, but without the data.
    machines = list(resources(templates, "AWS::StepFunctions::StateMachine"))
    assert machines
    for stack, machine_id, props in machines:
        logging = props["LoggingConfiguration"]
        assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", False), f"{stack}/{machine_id}"


def test_a_state_machine_added_after_the_workflow_alarms_fails_the_synth() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_stepfunctions as sfn

    from stacks.constructs.workflow import WorkflowAlarms

    # Given a stack whose alarms were added before its second state machine
    app = cdk.App()
    stack = cdk.Stack(app, "Probe")
    topic = sns.Topic(stack, "Topic")
    sfn.StateMachine(stack, "First", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "A")))
    alarms = WorkflowAlarms(stack, "WorkflowAlarms", alarm_topic=topic)
    sfn.StateMachine(stack, "Late", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "B")))
    # Then the first one is alarmed, and the synth names the late one
    assert len(next(iter(alarms.alarms.values()))) == 3
    with pytest.raises(Exception, match="Probe/Late was added after WorkflowAlarms"):
        app.synth()
