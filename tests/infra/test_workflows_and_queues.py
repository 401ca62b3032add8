"""Reliability properties of the workflows, the SQS sources and the API (reliability.md 8, 10-12, 18-24)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra.helpers import referenced_id, resources, statements

Templates = dict[str, dict[str, Any]]
TOKEN = "TOKEN"


def definition(props: dict[str, Any]) -> dict[str, Any]:
    """The state machine's ASL, with every deploy-time token replaced by a placeholder string."""
    raw = props["DefinitionString"]
    if isinstance(raw, dict) and "Fn::Join" in raw:
        raw = "".join(part if isinstance(part, str) else TOKEN for part in raw["Fn::Join"][1])
    return dict(json.loads(raw))


def state_machines(templates: Templates) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(i, p, definition(p)) for _, i, p in resources(templates, "AWS::StepFunctions::StateMachine")]


def all_states(asl: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in asl["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from all_states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from all_states(state[key])


def tasks(templates: Templates) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (machine, name, state)
        for machine, _, asl in state_machines(templates)
        for name, state in all_states(asl)
        if state["Type"] == "Task"
    ]


def test_there_are_workflows_to_check(templates: Templates) -> None:
    assert len(state_machines(templates)) >= 2
    assert len(tasks(templates)) >= 10


def test_p18_every_task_retries_transient_errors_boundedly(templates: Templates) -> None:
    for machine, name, state in tasks(templates):
        retries = state.get("Retry", [])
        assert retries, f"{machine}/{name} has no Retry"
        for retry in retries:
            assert 1 <= retry.get("MaxAttempts", 3) <= 10, f"{machine}/{name}"
            assert retry.get("BackoffRate", 2) >= 1, f"{machine}/{name}"


def test_p19_every_task_catches_states_all_last_with_a_result_path(templates: Templates) -> None:
    for machine, name, state in tasks(templates):
        catches = state.get("Catch", [])
        assert catches, f"{machine}/{name} has no Catch"
        assert catches[-1]["ErrorEquals"] == ["States.ALL"], f"{machine}/{name}: States.ALL must be last"
        assert all("ResultPath" in c for c in catches), f"{machine}/{name}: a Catch without ResultPath"


def test_p20_timeouts_and_heartbeats(templates: Templates) -> None:
    for machine, _, asl in state_machines(templates):
        assert asl.get("TimeoutSeconds"), f"{machine} has no TimeoutSeconds"
    callbacks = [(m, n, s) for m, n, s in tasks(templates) if s["Resource"].endswith(".waitForTaskToken")]
    assert callbacks
    for machine, name, state in callbacks:
        assert state.get("HeartbeatSeconds") and state.get("TimeoutSeconds"), f"{machine}/{name}"
        assert state["HeartbeatSeconds"] < state["TimeoutSeconds"]


def test_p21_logging_all_and_tracing(templates: Templates) -> None:
    for machine, props, _ in state_machines(templates):
        assert props["LoggingConfiguration"]["Level"] == "ALL", machine
        assert props["TracingConfiguration"] == {"Enabled": True}, machine


def test_p22_express_only_for_short_idempotent_workflows(templates: Templates) -> None:
    types = {}
    for machine, props, asl in state_machines(templates):
        types[machine] = props.get("StateMachineType", "STANDARD")
        if types[machine] == "EXPRESS":
            assert asl["TimeoutSeconds"] <= 300, machine
            # No callbacks or nested runs: Express may run a step more than once.
            for _, state in all_states(asl):
                resource = state.get("Resource", "")
                assert not resource.endswith((".sync", ".sync:2", ".waitForTaskToken")), machine
    assert set(types.values()) == {"EXPRESS", "STANDARD"}


def order_machines(templates: Templates) -> dict[str, dict[str, Any]]:
    """The order workflows' ASL by role: parent, Prepare, Fulfillment, Compensation."""
    machines = {i: asl for i, _, asl in state_machines(templates)}
    found = {"parent": next(asl for i, asl in machines.items() if "OrdersWorkflowStateMachine" in i)}
    for name in ("Prepare", "Fulfillment", "Compensation"):
        found[name] = next(asl for i, asl in machines.items() if i.startswith("OrdersWorkflow") and name in i)
    return found


def test_the_order_workflow_is_a_short_standard_parent_over_express_children(templates: Templates) -> None:
    machines = {i: (p.get("StateMachineType", "STANDARD"), asl) for i, p, asl in state_machines(templates)}
    [parent] = [asl for i, (kind, asl) in machines.items() if "OrdersWorkflowStateMachine" in i]
    resources_used = [s.get("Resource") for _, s in all_states(parent) if s["Type"] == "Task"]
    # Only what needs Standard stays in it: taking the order (and, when taken, who took it), the
    # payment callback, the nested runs, and recording a failed compensation.
    assert sorted(resources_used) == sorted(
        ["arn:TOKEN:states:::dynamodb:updateItem"] * 2
        + ["arn:TOKEN:states:::dynamodb:getItem"]
        + ["arn:TOKEN:states:::sqs:sendMessage.waitForTaskToken"]
        + ["arn:TOKEN:states:::states:startExecution.sync:2"] * 3
    )
    children = {
        name: machines[i]
        for i in machines
        for name in ("Prepare", "Fulfillment", "Compensation")
        if name in i
    }
    assert {kind for kind, _ in children.values()} == {"EXPRESS"}
    _, prepare = children["Prepare"]
    assert any(s["Type"] == "Choice" for _, s in all_states(prepare)), "the customer decision tree"
    _, fulfillment = children["Fulfillment"]
    assert any(s["Type"] == "Map" for _, s in all_states(fulfillment)), "the order's lines"


def test_no_workflow_publishes_order_events_the_outbox_does(templates: Templates) -> None:
    for machine, _, asl in state_machines(templates):
        if not machine.startswith("OrdersWorkflow"):
            continue
        resources_used = {s.get("Resource", "") for _, s in all_states(asl)}
        assert not any("events:putEvents" in r for r in resources_used), machine


def test_the_first_step_takes_the_order_once_and_reads_it_from_the_table(templates: Templates) -> None:
    parent = order_machines(templates)["parent"]
    take = parent["States"][parent["StartAt"]]
    params = take["Parameters"]
    # PENDING → PROCESSING only if PENDING, recording this execution as the owner
    assert params["ConditionExpression"] == "#status = :pending"
    assert params["ExpressionAttributeValues"][":pending"] == {"S": "PENDING"}
    assert params["ExpressionAttributeValues"][":me"] == {"S.$": "$$.Execution.Id"}
    assert "executionArn = :me" in params["UpdateExpression"]
    assert params["ReturnValues"] == "ALL_NEW"
    # The order comes from the write's result, and the event's detail is dropped
    assert take["ResultPath"] == "$"
    assert take["ResultSelector"]["order"]["paymentRef.$"] == "$.Attributes.paymentRef.S"
    # A duplicate OrderPlaced ends quietly; a retried take that finds its own first write carries on
    [taken] = [c for c in take["Catch"] if c["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]]
    owner = parent["States"][taken["Next"]]
    assert owner["Parameters"]["ConsistentRead"] is True
    choice = parent["States"][owner["Next"]]
    assert parent["States"][choice["Default"]]["Type"] == "Succeed"
    [mine] = choice["Choices"]
    assert parent["States"][parent["States"][mine["Next"]]["Next"]] == parent["States"]["Prepare"]


def test_every_status_write_of_the_children_is_conditional_on_owner_and_status(templates: Templates) -> None:
    writes = 0
    for name, asl in order_machines(templates).items():
        for state_name, state in all_states(asl):
            resource = state.get("Resource", "")
            if resource.endswith("dynamodb:updateItem") and "#status" in json.dumps(state["Parameters"]):
                condition = state["Parameters"]["ConditionExpression"]
                assert "#status" in condition, f"{name}/{state_name}"
                assert name == "parent" or "executionArn = :owner" in condition, f"{name}/{state_name}"
                writes += 1
            if resource.endswith("aws-sdk:dynamodb:transactWriteItems"):
                items = state["Parameters"]["TransactItems"]
                [order] = [i["Update"] for i in items if "#status" in i["Update"]["UpdateExpression"]]
                assert order["ConditionExpression"] == "executionArn = :owner AND #status = :paid"
                # The customer's order count is added in the same transaction as COMPLETED
                assert any("ADD orderCount" in i["Update"]["UpdateExpression"] for i in items)
                writes += 1
    assert writes >= 7


def test_the_invoice_is_written_once(templates: Templates) -> None:
    fulfillment = order_machines(templates)["Fulfillment"]
    [write] = [s for _, s in all_states(fulfillment) if s.get("Resource", "").endswith("s3:putObject")]
    assert write["Parameters"]["IfNoneMatch"] == "*"


def test_the_payment_message_names_the_token_by_reference_and_waits_long_enough(templates: Templates) -> None:
    parent = order_machines(templates)["parent"]
    [pay] = [s for _, s in all_states(parent) if s.get("Resource", "").endswith("waitForTaskToken")]
    body = pay["Parameters"]["MessageBody"]
    assert body["paymentRef.$"] == "$.order.paymentRef" and "paymentToken" not in json.dumps(body)
    # The heartbeat covers the queue wait it starts with (see order_workflows.py for the sizing)
    assert pay["HeartbeatSeconds"] >= 600


def test_workflow_tasks_retry_the_transient_errors_of_their_service(templates: Templates) -> None:
    # Every workflow of the app, the trials' as well as the orders'
    for name, _, asl in state_machines(templates):
        for state_name, state in all_states(asl):
            retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
            resource = state.get("Resource", "")
            if resource.endswith("lambda:invoke"):
                assert {"Lambda.ClientExecutionTimeoutException", "Sandbox.Timedout"} <= retried, state_name
            if resource.endswith(("dynamodb:updateItem", "dynamodb:getItem")):
                assert "DynamoDB.ThrottlingException" in retried, f"{name}/{state_name}"
            if "aws-sdk:dynamodb" in resource:
                assert "DynamoDb.ThrottlingException" in retried, f"{name}/{state_name}"
            if resource.endswith("events:putEvents"):
                assert "EventBridge.FailedEntry" in retried, f"{name}/{state_name}"


def test_a_failed_compensation_hands_the_order_to_an_operator_and_fails(templates: Templates) -> None:
    parent = order_machines(templates)["parent"]
    compensate = parent["States"]["Compensate"]
    [catch] = compensate["Catch"]
    attention = parent["States"][catch["Next"]]
    assert attention["Parameters"]["ExpressionAttributeValues"][":attention"] == {"S": "NEEDS_ATTENTION"}
    assert parent["States"][attention["Next"]] == {
        "Type": "Fail",
        "Error": "CompensationFailed",
        "Cause": "Release or refund failed",
    }


def orders_resources(templates: Templates, type_: str) -> list[tuple[str, dict[str, Any]]]:
    return [(i, p) for s, i, p in resources(templates, type_) if s == "EventDriven-Orders"]


def test_payment_backlog_settings_and_the_unanswered_payments_alarm(templates: Templates) -> None:
    [(_, mapping, queue, function)] = sqs_sources(templates)
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == function["ReservedConcurrentExecutions"]
    # Room for throttled receives next to real failures
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 10
    assert function["Environment"]["Variables"]["PAYMENT_MAX_RECEIVES"] == str(
        queue["RedrivePolicy"]["maxReceiveCount"]
    )
    [alarm] = [
        p
        for _, p in orders_resources(templates, "AWS::CloudWatch::Alarm")
        if p.get("MetricName") == "ApproximateAgeOfOldestMessage"
    ]
    assert alarm["Namespace"] == "AWS/SQS" and alarm["AlarmActions"]
    assert alarm["Threshold"] <= 300
    [poison] = [
        p
        for _, p in orders_resources(templates, "AWS::CloudWatch::Alarm")
        if p.get("MetricName") == "PaymentsPoisonMessages"
    ]
    assert poison["Dimensions"] == [{"Name": "service", "Value": "payment"}] and poison["AlarmActions"]


def test_the_sweeper_runs_every_five_minutes_queries_an_index_and_alarms(templates: Templates) -> None:
    [(_, rule)] = [
        (i, p) for i, p in orders_resources(templates, "AWS::Events::Rule") if "ScheduleExpression" in p
    ]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    [target] = rule["Targets"]
    assert "Sweeper" in referenced_id(target["Arn"]) and target["DeadLetterConfig"]["Arn"]
    [(_, table)] = [
        (i, p)
        for i, p in orders_resources(templates, "AWS::DynamoDB::Table")
        if i.startswith("OrdersOrdersTable")
    ]
    [index] = table["GlobalSecondaryIndexes"]
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["status", "updatedAt"]
    [alarm] = [
        p
        for _, p in orders_resources(templates, "AWS::CloudWatch::Alarm")
        if p.get("MetricName") == "OrdersNeedingAttention"
    ]
    assert alarm["Threshold"] == 1 and alarm["AlarmActions"]


def granted_actions(templates: Templates, role_fragment: str, table_fragment: str) -> set[str]:
    actions: set[str] = set()
    for _, policy_id, policy in resources(templates, "AWS::IAM::Policy"):
        if role_fragment not in policy_id:
            continue
        for statement in statements(policy["PolicyDocument"]):
            if table_fragment in json.dumps(statement["Resource"]):
                found = statement["Action"]
                actions |= {found} if isinstance(found, str) else set(found)
    return actions


@pytest.mark.parametrize(
    ("role", "table", "expected"),
    [
        (
            "OrdersPaymentRoleDefault",
            "OrdersPaymentsTable",
            {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        ),
        ("OrdersPaymentRoleDefault", "PaymentTokens", {"dynamodb:GetItem", "dynamodb:DeleteItem"}),
        (
            "OrdersPaymentRefund",
            "OrdersPaymentsTable",
            {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        ),
        ("OrdersAccountingHandler", "OrdersLedgerTable", {"dynamodb:PutItem", "dynamodb:ConditionCheckItem"}),
        ("OrdersAccountingHandler", "OrdersPaymentsTable", {"dynamodb:GetItem"}),
        ("OrdersSweeperFunction", "OrdersOrdersTable", {"dynamodb:Query", "dynamodb:UpdateItem"}),
    ],
)
def test_order_functions_get_only_the_table_actions_they_use(
    templates: Templates, role: str, table: str, expected: set[str]
) -> None:
    assert granted_actions(templates, role, table) == expected


def test_p23_eventbridge_starts_a_workflow_with_a_role_scoped_to_it(templates: Templates) -> None:
    found = 0
    for stack, _, rule in resources(templates, "AWS::Events::Rule"):
        for target in rule["Targets"]:
            machine = referenced_id(target["Arn"])
            if not machine or "StateMachine" not in machine:
                continue
            found += 1
            role = referenced_id(target["RoleArn"])
            policies = [
                p
                for _, _, p in resources({stack: templates[stack]}, "AWS::IAM::Policy")
                if role in {referenced_id(r) for r in p["Roles"]}
            ]
            granted = [s for p in policies for s in statements(p["PolicyDocument"])]
            assert granted == [
                {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine}}
            ], granted
    assert found


def sqs_sources(templates: Templates) -> list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(stack, mapping, queue, function) for every SQS event source mapping."""
    found = []
    for stack, _, mapping in resources(templates, "AWS::Lambda::EventSourceMapping"):
        queue_id = referenced_id(mapping["EventSourceArn"])
        resources_ = templates[stack]["Resources"]
        if queue_id and resources_[queue_id]["Type"] == "AWS::SQS::Queue":
            function = resources_[referenced_id(mapping["FunctionName"])]["Properties"]
            found.append((stack, mapping, resources_[queue_id]["Properties"], function))
    return found


def test_p8_sqs_sources_report_batch_item_failures(templates: Templates) -> None:
    assert sqs_sources(templates)
    for _, mapping, _, _ in sqs_sources(templates):
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_sqs_sources_never_poll_past_the_functions_reserved_concurrency(templates: Templates) -> None:
    # A poller beyond the reserved concurrency is throttled, and each throttled receive counts
    # toward the queue's maxReceiveCount: work ends in the DLQ under load.
    reserved = [(m, f) for _, m, _, f in sqs_sources(templates) if "ReservedConcurrentExecutions" in f]
    assert reserved
    for mapping, function in reserved:
        assert mapping["ScalingConfig"]["MaximumConcurrency"] <= function["ReservedConcurrentExecutions"]


def test_p10_source_queue_visibility_is_six_times_the_function_timeout(templates: Templates) -> None:
    for _, _, queue, function in sqs_sources(templates):
        assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]


def test_p11_p12_source_queues_redrive_to_a_longer_lived_dlq_of_the_same_type(templates: Templates) -> None:
    for stack, _, queue, _ in sqs_sources(templates):
        redrive = queue["RedrivePolicy"]
        assert redrive["maxReceiveCount"] >= 5
        dlq = templates[stack]["Resources"][referenced_id(redrive["deadLetterTargetArn"])]["Properties"]
        assert dlq["MessageRetentionPeriod"] > queue.get("MessageRetentionPeriod", 4 * 86400)
        assert bool(dlq.get("FifoQueue")) == bool(queue.get("FifoQueue"))


def test_the_payment_service_is_throttled_by_reserved_concurrency(templates: Templates) -> None:
    [(_, _, _, function)] = sqs_sources(templates)
    assert function["Handler"] == "payment.handler.lambda_handler"
    assert 1 <= function["ReservedConcurrentExecutions"] <= 5


@pytest.fixture
def api(templates: Templates) -> Templates:
    return {stack: t for stack, t in templates.items() if stack.endswith("-Api")}


def test_p24_every_method_is_authorized_and_validated(api: Templates) -> None:
    methods = [p for _, _, p in resources(api, "AWS::ApiGateway::Method") if p["HttpMethod"] != "OPTIONS"]
    assert len(methods) >= 2
    for method in methods:
        assert method["AuthorizationType"] == "AWS_IAM"
        assert referenced_id(method["RequestValidatorId"])
        assert method["Integration"]["Type"] == "AWS_PROXY"
    [post] = [m for m in methods if m["HttpMethod"] == "POST" and "PlaceOrder" in json.dumps(m)]
    assert post["RequestModels"]["application/json"]
    [(_, _, validator)] = list(resources(api, "AWS::ApiGateway::RequestValidator"))
    assert validator["ValidateRequestBody"] and validator["ValidateRequestParameters"]


def test_p24_the_stage_is_throttled_logged_and_traced(api: Templates) -> None:
    [(_, _, stage)] = list(resources(api, "AWS::ApiGateway::Stage"))
    assert stage["TracingEnabled"] is True
    assert stage["AccessLogSetting"]["DestinationArn"]
    [settings] = stage["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
