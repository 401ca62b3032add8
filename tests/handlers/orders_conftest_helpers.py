"""Helpers for the order flow's handler tests: the stack's tables in moto, and the events Lambda receives."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.handlers.conftest import REGION, FakeContext

ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"
OTHER_ORDER_ID = "0b7e0c8a-1d2f-4e3a-9b8c-7d6e5f4a3b21"
ORDER_BODY: dict[str, Any] = {
    "lines": [{"sku": "BOOK-0001", "quantity": 2}, {"sku": "MUG-0042", "quantity": 1}],
    "currency": "EUR",
    "paymentToken": "tok_visa",
}
# The catalogue's prices for ORDER_BODY's SKUs, and what the order comes to at those prices.
PRICES = {"BOOK-0001": 1250, "MUG-0042": 899}
ORDER_LINES = [
    {"sku": "BOOK-0001", "quantity": 2, "unitPriceCents": 1250},
    {"sku": "MUG-0042", "quantity": 1, "unitPriceCents": 899},
]
ORDER_TOTAL = 2 * 1250 + 899
# API Gateway's requestContext.identity of an IAM-signed service and of a Cognito identity.
SERVICE_ARN = "arn:aws:iam::123456789012:user/shop-frontend"
SERVICE = {"sourceIp": "203.0.113.10", "userArn": SERVICE_ARN, "cognitoIdentityId": None}
PERSON_ID = "us-east-1:7d3c1b2a-5e4f-4a6b-8c9d-0e1f2a3b4c5d"
PERSON = {
    "sourceIp": "203.0.113.11",
    "userArn": "arn:aws:sts::123456789012:assumed-role/Cognito_ShopAuth_Role/CognitoIdentityCredentials",
    "cognitoIdentityId": PERSON_ID,
}


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
    identity: dict[str, Any] | None = None,
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
            "identity": identity if identity is not None else {"sourceIp": "203.0.113.10"},
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
