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
from tests.handlers.logs import correlation_ids, log_lines
from tests.handlers.test_trial_pool import create_trials_table

TABLE, REQUESTS = "trials", "trial-requests"
DURATION = 3600
BODY = '{"leadId": "lead-0042", "type": "ACS"}'
SALES_TOOL = "arn:aws:iam::123456789012:user/sales-tool"


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the trials table and the request-keys table (TTL on expiresAt, as the stack declares them)
    create_trials_table(TABLE)
    boto3.client("dynamodb").create_table(
        TableName=REQUESTS,
        KeySchema=[{"AttributeName": "requestKey", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "requestKey", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("TRIALS_TABLE_NAME", TABLE)
    monkeypatch.setenv("TRIAL_REQUESTS_TABLE_NAME", REQUESTS)
    monkeypatch.setenv("TRIAL_DURATION_SECONDS", str(DURATION))
    return load_handler("trials_api.handler")


def api_event(
    method: str,
    path: str,
    body: str | None = None,
    *,
    request_id: str = "req-api-1",
    headers: dict[str, str] | None = None,
    caller: str = SALES_TOOL,
) -> dict:
    """A REST API (v1) Lambda proxy event, as API Gateway sends it for an AWS_IAM-signed caller."""
    trial_id = path.split("/", 2)[2] if path.count("/") >= 2 else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return {
        "resource": "/trials/{trialId}" if trial_id else "/trials",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
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
            "identity": {"sourceIp": "127.0.0.1", "userArn": caller, "caller": "AIDAEXAMPLE"},
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


@pytest.mark.parametrize("trial_id", [str(uuid.uuid4()), "x" * 2000, "not-a-trial", "%00", "A" * 36])
def test_an_unknown_or_malformed_trial_id_is_404_without_echoing_it(
    handler: ModuleType, trial_id: str
) -> None:
    status, body = call(handler, api_event("GET", f"/trials/{trial_id}"))
    assert status == 404
    assert body == {"message": "trial not found"}


def test_a_trial_past_its_expiry_reads_expired_although_ttl_has_not_removed_it(handler: ModuleType) -> None:
    # Given an assigned trial whose expiresAt has passed, and whose row TTL has not removed yet
    trial_id = str(uuid.uuid4())
    now = int(time.time())
    boto3.client("dynamodb").put_item(
        TableName=TABLE,
        Item={
            "trialId": {"S": trial_id},
            "leadId": {"S": "lead-0042"},
            "type": {"S": "ACS"},
            "requestedAt": {"N": str(now - DURATION - 5)},
            "status": {"S": "ASSIGNED"},
            "expiresAt": {"N": str(now - 5)},
            "environmentId": {"S": "e-1"},
        },
    )
    # When it is read
    status, body = call(handler, api_event("GET", f"/trials/{trial_id}"))
    # Then it says EXPIRED
    assert (status, body["status"], body["environmentId"]) == (200, "EXPIRED", "e-1")


def test_a_retried_request_gives_the_same_trial_and_stores_one(handler: ModuleType) -> None:
    # Given a trial requested for a lead and type
    first_status, first = call(handler, api_event("POST", "/trials", BODY))
    # When the same request comes again (a client retry after a timeout)
    again_status, again = call(handler, api_event("POST", "/trials", BODY))
    # Then it answers with the same trial (200: nothing new was created), and there is one row
    assert (first_status, again_status) == (202, 200)
    assert again["trialId"] == first["trialId"]
    assert len(stored_rows()) == 1
    # And another type for the same lead is another trial
    other_status, other = call(
        handler, api_event("POST", "/trials", '{"leadId": "lead-0042", "type": "BCS"}')
    )
    assert other_status == 202 and other["trialId"] != first["trialId"]


def test_a_request_racing_an_identical_one_gives_the_same_trial(handler: ModuleType) -> None:
    # Given an identical request that lands between this one's start and its write
    raced: dict[str, Any] = {}

    def the_other_lands_first(**_: Any) -> None:
        if not raced:
            raced["started"] = True
            raced["other"] = call(handler, api_event("POST", "/trials", BODY))

    handler.session.events.register("before-call.dynamodb.TransactWriteItems", the_other_lands_first)
    # When this one writes
    status, body = call(handler, api_event("POST", "/trials", BODY))
    # Then its transaction fails on the request key, and it answers with the other's trial
    assert raced["other"][0] == 202 and status == 200
    assert body["trialId"] == raced["other"][1]["trialId"]
    assert len(stored_rows()) == 1


def test_an_idempotency_key_is_the_callers_and_names_one_request(handler: ModuleType) -> None:
    key = {"Idempotency-Key": "order-form-7f3a9c"}
    _, first = call(handler, api_event("POST", "/trials", BODY, headers=key))
    _, again = call(
        handler, api_event("POST", "/trials", BODY, headers={"idempotency-key": key["Idempotency-Key"]})
    )
    assert again["trialId"] == first["trialId"]
    # Another caller's same key is another request
    _, theirs = call(handler, api_event("POST", "/trials", BODY, headers=key, caller=SALES_TOOL + "-2"))
    assert theirs["trialId"] != first["trialId"]
    # The same key for a different body is refused, naming neither
    status, answer = call(
        handler, api_event("POST", "/trials", '{"leadId": "lead-0043", "type": "ACS"}', headers=key)
    )
    assert status == 422 and "lead-0043" not in json.dumps(answer) and "order-form" not in json.dumps(answer)
    assert len(stored_rows()) == 2


def test_a_malformed_idempotency_key_is_400(handler: ModuleType) -> None:
    status, answer = call(handler, api_event("POST", "/trials", BODY, headers={"Idempotency-Key": "short"}))
    assert status == 400 and answer["errors"][0]["field"] == "Idempotency-Key"
    assert stored_rows() == []


def test_a_request_key_whose_trial_has_expired_starts_a_new_trial(handler: ModuleType) -> None:
    # Given a trial for the lead whose expiry has passed (its request key has not been removed by TTL)
    _, first = call(handler, api_event("POST", "/trials", BODY))
    for table, key in ((TABLE, {"trialId": {"S": first["trialId"]}}),):
        boto3.client("dynamodb").update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET expiresAt = :past",
            ExpressionAttributeValues={":past": {"N": "1"}},
        )
    [guard] = boto3.client("dynamodb").scan(TableName=REQUESTS)["Items"]
    boto3.client("dynamodb").update_item(
        TableName=REQUESTS,
        Key={"requestKey": guard["requestKey"]},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )
    # When the lead asks again
    status, again = call(handler, api_event("POST", "/trials", BODY))
    # Then it is a new trial, and the request key holds no lead id
    assert status == 202 and again["trialId"] != first["trialId"]
    assert "lead-0042" not in json.dumps(boto3.client("dynamodb").scan(TableName=REQUESTS)["Items"])


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


def test_the_log_lines_of_a_requested_trial_carry_its_id_as_correlation_id(handler: ModuleType) -> None:
    # When a trial is requested
    with log_lines(handler.logger) as lines:
        _, body = call(
            handler,
            api_event("POST", "/trials", '{"leadId": "lead-0042", "type": "ACS"}', request_id="req-xyz"),
        )
    # Then its line carries the trial's id (the flow's id), not the API request's
    assert lines and set(correlation_ids(lines)) == {body["trialId"]}


def test_a_lead_whose_trial_failed_can_ask_again(handler: ModuleType) -> None:
    # Given a lead's trial whose assignment failed
    _, first = call(handler, api_event("POST", "/trials", BODY))
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"trialId": {"S": first["trialId"]}},
        UpdateExpression="SET #s = :failed",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":failed": {"S": "FAILED"}},
    )
    # When the lead asks again
    status, again = call(handler, api_event("POST", "/trials", BODY))
    # Then it is a new trial, and a retry of that one is the same again
    assert status == 202 and again["trialId"] != first["trialId"]
    assert call(handler, api_event("POST", "/trials", BODY))[1]["trialId"] == again["trialId"]
