"""The trials API handler against moto: POST /trials stores the row, GET reads it, bad bodies get 400."""

from __future__ import annotations

import json
import time
import uuid
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.handlers.conftest import FakeContext, load_handler

TABLE = "trials"
DURATION = 3600


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the trials table (TTL on expiresAt, as the stack declares it)
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "trialId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "trialId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("TRIALS_TABLE_NAME", TABLE)
    monkeypatch.setenv("TRIAL_DURATION_SECONDS", str(DURATION))
    return load_handler("trials_api.handler")


def api_event(method: str, path: str, body: str | None = None, *, request_id: str = "req-api-1") -> dict:
    """A REST API (v1) Lambda proxy event, as API Gateway sends it."""
    trial_id = path.split("/")[2] if path.count("/") == 2 else None
    return {
        "resource": "/trials/{trialId}" if trial_id else "/trials",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"trialId": trial_id} if trial_id else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/trials/{trialId}" if trial_id else "/trials",
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": request_id,
            "accountId": "123456789012",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def call(handler: ModuleType, event: dict) -> tuple[int, Any]:
    response = handler.lambda_handler(event, FakeContext(function_name="trials-api"))
    return response["statusCode"], json.loads(response["body"])


def stored_rows() -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=TABLE)["Items"]


def test_a_trial_request_is_stored_and_answered_202(handler: ModuleType) -> None:
    # When a lead asks for a trial
    before = int(time.time())
    status, body = call(handler, api_event("POST", "/trials", '{"leadId": "lead-0042", "type": "ACS"}'))
    # Then the answer is 202 with the new trial's id, REQUESTED, and when it expires
    assert status == 202
    assert set(body) == {"trialId", "status", "expiresAt"}
    assert uuid.UUID(body["trialId"]).version == 4
    assert body["status"] == "REQUESTED"
    # And the row holds the request, stamped now, with the TTL attribute a trial duration later
    [row] = stored_rows()
    requested_at = int(row["requestedAt"]["N"])
    assert before <= requested_at <= int(time.time())
    assert row == {
        "trialId": {"S": body["trialId"]},
        "leadId": {"S": "lead-0042"},
        "type": {"S": "ACS"},
        "requestedAt": {"N": str(requested_at)},
        "status": {"S": "REQUESTED"},
        "expiresAt": {"N": str(requested_at + DURATION)},
    }
    assert body["expiresAt"] == requested_at + DURATION


def test_a_stored_trial_can_be_read_back(handler: ModuleType) -> None:
    # Given a trial requested through the API
    _, created = call(handler, api_event("POST", "/trials", '{"leadId": "lead-0042", "type": "ACS"}'))
    # When it is read
    status, body = call(handler, api_event("GET", f"/trials/{created['trialId']}"))
    # Then the row comes back
    assert status == 200
    assert body["trialId"] == created["trialId"]
    assert (body["leadId"], body["type"], body["status"]) == ("lead-0042", "ACS", "REQUESTED")
    assert body["expiresAt"] == created["expiresAt"]


def test_an_unknown_trial_is_404(handler: ModuleType) -> None:
    status, body = call(handler, api_event("GET", f"/trials/{uuid.uuid4()}"))
    assert status == 404
    assert "not found" in body["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"leadId": "lead-0042"}', "type"),
        ('{"leadId": "lead-0042", "type": "acs"}', "type"),
        ('{"leadId": "", "type": "ACS"}', "leadId"),
        ('{"leadId": "lead-0042", "type": "ACS", "status": "ASSIGNED"}', "status"),
        ("not json", "body"),
        (None, "body"),
    ],
)
def test_an_invalid_request_is_400_naming_the_field_and_stores_nothing(
    handler: ModuleType, body: str | None, field: str
) -> None:
    status, answer = call(handler, api_event("POST", "/trials", body))
    assert status == 400
    assert field in {error["field"] for error in answer["errors"]}
    assert stored_rows() == []


def test_logs_carry_the_api_request_id_as_correlation_id(handler: ModuleType) -> None:
    call(
        handler, api_event("POST", "/trials", '{"leadId": "lead-0042", "type": "ACS"}', request_id="req-xyz")
    )
    assert handler.logger.get_correlation_id() == "req-xyz"
