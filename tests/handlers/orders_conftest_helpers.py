"""Helpers for the order flow's handler tests: the stack's tables in moto, and the events Lambda receives."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.handlers.conftest import REGION, FakeContext

ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"
OTHER_ORDER_ID = "0b7e0c8a-1d2f-4e3a-9b8c-7d6e5f4a3b21"
ORDER_BODY: dict[str, Any] = {
    "customerId": "customer-0001",
    "lines": [
        {"sku": "BOOK-0001", "quantity": 2, "unitPriceCents": 1250},
        {"sku": "MUG-0042", "quantity": 1, "unitPriceCents": 899},
    ],
    "currency": "EUR",
    "paymentToken": "tok_visa",
}
ORDER_TOTAL = 2 * 1250 + 899


def create_table(name: str, key: str) -> None:
    """An on-demand table keyed by one string attribute, as the stack's `table()` makes them."""
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def scan(name: str) -> list[dict[str, Any]]:
    """Every item of a table, as plain values."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    items = boto3.client("dynamodb").scan(TableName=name)["Items"]
    return [{k: deserializer.deserialize(v) for k, v in item.items()} for item in items]


def context(name: str, request_id: str = "req-1") -> FakeContext:
    return FakeContext(
        function_name=name,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
        aws_request_id=request_id,
    )


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    request_id: str = "api-req-1",
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as the integration hands it to Lambda."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": request_id,
            "accountId": "123456789012",
            "apiId": "abc123",
            "identity": {"sourceIp": "203.0.113.10"},
        },
        "body": body if body is None or isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }


def sqs_record(body: Any, message_id: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795000000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1795000000001",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:payment-queue",
        "awsRegion": REGION,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def order_event(
    detail_type: str, detail: Any, *, event_id: str = "evt-1", source: str = "myapp.orders"
) -> dict[str, Any]:
    """An order event as EventBridge delivers it to a Lambda target."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-11-22T10:05:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }
