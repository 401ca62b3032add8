"""Order intake on the template: the orders stream and its outbox, the payment tokens table, exact grants."""

from __future__ import annotations

import json
from typing import Any

from shared.contracts.orders import PlaceOrderRequest, RequestedLine
from tests.infra.helpers import as_list, referenced_id, resources, statements

Templates = dict[str, dict[str, Any]]
ORDERS_STACK = "EventDriven-Orders"
API_STACK = "EventDriven-Api"
ORDERS_TABLE = "OrdersOrdersTable07F5E64F"
INVENTORY_TABLE = "OrdersInventoryTable8063C474"
IDEMPOTENCY_TABLE = "OrdersIdempotencyTableCCE5AF03"


def stack_resources(templates: Templates, type_: str) -> dict[str, dict[str, Any]]:
    return {i: p for s, i, p in resources(templates, type_) if s == ORDERS_STACK}


def function_id(templates: Templates, handler: str) -> str:
    [found] = [
        i for i, p in stack_resources(templates, "AWS::Lambda::Function").items() if p["Handler"] == handler
    ]
    return found


def function(templates: Templates, handler: str) -> dict[str, Any]:
    return stack_resources(templates, "AWS::Lambda::Function")[function_id(templates, handler)]


def role_statements(templates: Templates, handler: str) -> list[dict[str, Any]]:
    """The statements of the policies attached to the role of the function with this handler."""
    role = referenced_id(function(templates, handler)["Role"])
    return [
        statement
        for props in stack_resources(templates, "AWS::IAM::Policy").values()
        if role in [referenced_id(r) for r in props["Roles"]]
        for statement in statements(props["PolicyDocument"])
    ]


def dynamodb_grants(templates: Templates, handler: str) -> dict[str, set[str]]:
    """Table logical id (or `<id>.StreamArn`) -> the DynamoDB actions the function's role allows on it."""
    grants: dict[str, set[str]] = {}
    for statement in role_statements(templates, handler):
        actions = {a for a in as_list(statement["Action"]) if a.startswith("dynamodb:")}
        if not actions:
            continue
        for resource in as_list(statement["Resource"]):
            target = referenced_id(resource) or str(resource)
            if isinstance(resource, dict) and resource.get("Fn::GetAtt", [None, None])[1] == "StreamArn":
                target += ".StreamArn"
            grants.setdefault(target, set()).update(actions)
    return grants


def tokens_table(templates: Templates) -> tuple[str, dict[str, Any]]:
    [(table_id, props)] = [
        (i, p)
        for i, p in stack_resources(templates, "AWS::DynamoDB::Table").items()
        if p["KeySchema"] == [{"AttributeName": "paymentRef", "KeyType": "HASH"}]
    ]
    return table_id, props


def outbox_mapping(templates: Templates) -> dict[str, Any]:
    outbox = function_id(templates, "order_outbox.handler.lambda_handler")
    [mapping] = [
        p
        for p in stack_resources(templates, "AWS::Lambda::EventSourceMapping").values()
        if referenced_id(p["FunctionName"]) == outbox
    ]
    return mapping


def test_the_orders_table_streams_both_images(templates: Templates) -> None:
    table = stack_resources(templates, "AWS::DynamoDB::Table")[ORDERS_TABLE]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_payment_tokens_table_expires_tokens_and_is_encrypted(templates: Templates) -> None:
    _, table = tokens_table(templates)
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    intake = function(templates, "orders_api.handler.lambda_handler")
    assert intake["Environment"]["Variables"]["PAYMENT_TOKEN_TTL_SECONDS"] == str(24 * 3600)


def test_the_outbox_reads_the_orders_stream_in_partial_batches_with_bounded_retries(
    templates: Templates,
) -> None:
    mapping = outbox_mapping(templates)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [ORDERS_TABLE, "StreamArn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 1 <= mapping["MaximumRetryAttempts"] <= 10
    assert 60 <= mapping["MaximumRecordAgeInSeconds"] <= 6 * 3600
    assert mapping["StartingPosition"] == "TRIM_HORIZON"  # no order stored before the mapping is missed
    # Invoked only for what it publishes: new orders and their changes (never REMOVE)
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert patterns == [{"eventName": ["INSERT"]}, {"eventName": ["MODIFY"]}]


def test_what_the_outbox_cannot_publish_goes_to_an_alarmed_dlq(templates: Templates) -> None:
    mapping = outbox_mapping(templates)
    dlq = referenced_id(mapping["DestinationConfig"]["OnFailure"]["Destination"])
    assert dlq in stack_resources(templates, "AWS::SQS::Queue")
    alarms = stack_resources(templates, "AWS::CloudWatch::Alarm").values()
    [depth] = [
        a
        for a in alarms
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and any(referenced_id(d["Value"]) == dlq for d in a["Dimensions"])
    ]
    assert depth["Threshold"] == 1 and depth["AlarmActions"]


def test_a_lagging_outbox_alarms(templates: Templates) -> None:
    outbox = function_id(templates, "order_outbox.handler.lambda_handler")
    [lag] = [
        a
        for a in stack_resources(templates, "AWS::CloudWatch::Alarm").values()
        if a.get("MetricName") == "IteratorAge"
        and any(referenced_id(d["Value"]) == outbox for d in a["Dimensions"])
    ]
    assert lag["Statistic"] == "Maximum" and lag["Threshold"] <= 15 * 60 * 1000 and lag["AlarmActions"]


def test_intake_may_do_exactly_what_it_does_on_each_table(templates: Templates) -> None:
    tokens, _ = tokens_table(templates)
    assert dynamodb_grants(templates, "orders_api.handler.lambda_handler") == {
        ORDERS_TABLE: {"dynamodb:PutItem", "dynamodb:GetItem"},  # TransactWriteItems is a PutItem per table
        tokens: {"dynamodb:PutItem"},
        INVENTORY_TABLE: {"dynamodb:BatchGetItem"},
        IDEMPOTENCY_TABLE: {
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        },
    }


def test_intake_publishes_nothing_itself(templates: Templates) -> None:
    actions = {
        a
        for s in role_statements(templates, "orders_api.handler.lambda_handler")
        for a in as_list(s["Action"])
    }
    assert not [a for a in actions if a.startswith("events:")]
    assert (
        "EVENT_BUS_NAME"
        not in function(templates, "orders_api.handler.lambda_handler")["Environment"]["Variables"]
    )


def test_the_outbox_reads_the_stream_and_puts_events_and_nothing_else(templates: Templates) -> None:
    grants = dynamodb_grants(templates, "order_outbox.handler.lambda_handler")
    assert grants == {
        f"{ORDERS_TABLE}.StreamArn": {
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
        },
        "*": {"dynamodb:ListStreams"},  # CDK's stream grant; ListStreams takes no resource
    }
    puts = [
        s
        for s in role_statements(templates, "order_outbox.handler.lambda_handler")
        if s["Action"] == "events:PutEvents"
    ]
    assert len(puts) == 1 and "EventingBus" in json.dumps(puts[0]["Resource"])


def test_intake_keeps_the_logical_ids_it_had_before_it_became_a_construct(templates: Templates) -> None:
    # Its log group has a fixed name and its ARN is exported to the API stack: a new id would fail the update.
    ids = set(templates[ORDERS_STACK]["Resources"])
    assert {
        "OrdersOrdersApiFunction4CC1305B",
        "OrdersOrdersApiLogsCCA87A44",
        "OrdersOrdersApiRole502B0A6F",
    } <= ids
    assert function_id(templates, "orders_api.handler.lambda_handler") == "OrdersOrdersApiFunction4CC1305B"


def test_the_api_model_of_post_orders_is_the_contract(templates: Templates) -> None:
    [schema] = [
        p["Schema"]
        for s, i, p in resources(templates, "AWS::ApiGateway::Model")
        if s == API_STACK and i.startswith("ApiPlaceOrder")
    ]
    # The same fields, the same required ones, nothing else accepted: no price, no customerId
    assert set(schema["properties"]) == set(PlaceOrderRequest.model_fields)
    assert set(schema["required"]) == {
        n for n, f in PlaceOrderRequest.model_fields.items() if f.is_required()
    }
    assert schema["additionalProperties"] is False
    line = schema["properties"]["lines"]["items"]
    assert set(line["properties"]) == set(line["required"]) == set(RequestedLine.model_fields)
    assert line["additionalProperties"] is False
