"""Tests for the API Gateway proxy's Lambda proxy integration: the REST v1 event, the answer, the runtime."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.apigateway.proxy import ApiGatewayProxy
from localcloud.core.backends import BACKENDS
from localcloud.core.clock import FairClock
from localcloud.core.settings import ACCOUNT_ID, REGION, Settings
from localcloud.core.trace import Trace
from localcloud.lambda_.runtime import Runtime, Throttled
from tests.unit.localcloud import apigateway_helpers
from tests.unit.localcloud.apigateway_helpers import SIGNED, VALID_ORDER, LocalApi, json_body, serve

# The shared fixture, bound here so pytest finds it in this module.
local_api = apigateway_helpers.local_api


# -- the proxy event ------------------------------------------------------------------------------
def test_get_builds_the_rest_v1_proxy_event(local_api: LocalApi) -> None:
    # Given a GET /orders/{orderId} with query strings (one repeated) and a custom header
    # When it is called through the local invoke URL
    response = local_api.client.get(
        local_api.url("/orders/o-123") + "?expand=items&tag=a&tag=b",
        headers={"X-Custom": "yes", "User-Agent": "pytest-agent"},
    )

    # Then the function got AWS's v1 event for it
    assert response.status_code == 200
    name, event = local_api.fake.events[-1]
    assert name == "orders-handler"
    assert event["resource"] == "/orders/{orderId}"
    assert event["path"] == "/orders/o-123"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"orderId": "o-123"}
    assert event["queryStringParameters"] == {"expand": "items", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"expand": ["items"], "tag": ["a", "b"]}
    assert event["headers"]["X-Custom"] == "yes"
    assert event["multiValueHeaders"]["X-Custom"] == ["yes"]
    assert {"X-Forwarded-For", "X-Forwarded-Proto", "X-Amzn-Trace-Id"} <= set(event["headers"])
    assert event["stageVariables"] == {"env": "local"}
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "prod"
    assert context["resourcePath"] == "/orders/{orderId}"
    assert context["path"] == "/prod/orders/o-123"
    assert context["httpMethod"] == "GET"
    assert context["apiId"] == local_api.api_id
    assert context["accountId"] == ACCOUNT_ID
    assert context["domainName"] == f"{local_api.api_id}.execute-api.{REGION}.amazonaws.com"
    assert context["domainPrefix"] == local_api.api_id
    assert context["identity"]["userAgent"] == "pytest-agent"
    assert context["identity"]["sourceIp"]
    assert isinstance(context["requestTimeEpoch"], int)
    assert context["requestId"] == response.headers["x-amzn-RequestId"]
    assert context["extendedRequestId"] == response.headers["x-amz-apigw-id"]


def test_event_parses_as_powertools_api_gateway_proxy_event(local_api: LocalApi) -> None:
    # Given a signed POST with a valid body
    from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

    # When it goes through
    local_api.client.post(
        local_api.url("/orders"), json=VALID_ORDER, headers={**SIGNED, "Idempotency-Key": "k-1"}
    )

    # Then the event is one Powertools' parser (what the app's handlers use) accepts
    parsed = APIGatewayProxyEventModel.model_validate(local_api.fake.last_event)
    assert parsed.requestContext.operationName == "CreateOrder"


def test_post_passes_body_and_signed_identity(local_api: LocalApi) -> None:
    # Given a SigV4-signed POST /orders whose body fits the model
    # When it is sent
    response = local_api.client.post(
        local_api.url("/orders"), json=VALID_ORDER, headers={**SIGNED, "Idempotency-Key": "k-1"}
    )

    # Then the function receives the body as a string and the caller's access key
    assert response.status_code == 200
    event = local_api.fake.last_event
    assert json.loads(event["body"]) == VALID_ORDER
    assert event["isBase64Encoded"] is False
    assert event["pathParameters"] is None
    assert event["queryStringParameters"] is None
    assert event["requestContext"]["identity"]["accessKey"] == "AKIDLOCAL"
    assert event["requestContext"]["resourcePath"] == "/orders"


def signed_by(access_key: str) -> dict[str, str]:
    return {**SIGNED, "Authorization": SIGNED["Authorization"].replace("AKIDLOCAL", access_key)}


def test_iam_callers_are_the_users_owning_their_access_keys(local_api: LocalApi) -> None:
    # Given two IAM users, each with an access key
    iam = apigateway_helpers.aws_client("iam")
    users = {name: iam.create_user(UserName=name)["User"] for name in ("alice", "bob")}
    keys = {name: iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"] for name in users}

    # When each calls the same AWS_IAM route with a request signed by their key
    identities = []
    for n, name in enumerate(users):
        headers = {**signed_by(keys[name]), "Idempotency-Key": f"k-user-{n}"}
        response = local_api.client.post(local_api.url("/orders"), json=VALID_ORDER, headers=headers)
        assert response.status_code == 200
        identities.append(local_api.fake.last_event["requestContext"]["identity"])

    # Then the function sees each user: its ARN, its user id as caller and user, the account
    assert [i["userArn"] for i in identities] == [users["alice"]["Arn"], users["bob"]["Arn"]]
    assert [(i["caller"], i["user"]) for i in identities] == [
        (users[name]["UserId"], users[name]["UserId"]) for name in ("alice", "bob")
    ]
    assert [i["accessKey"] for i in identities] == [keys["alice"], keys["bob"]]
    assert {i["accountId"] for i in identities} == {ACCOUNT_ID}


def test_an_iam_caller_with_a_key_no_user_owns_is_the_accounts_root(local_api: LocalApi) -> None:
    # Given a signature with an access key no IAM user has
    # When it calls an AWS_IAM route
    response = local_api.client.post(
        local_api.url("/orders"), json=VALID_ORDER, headers={**SIGNED, "Idempotency-Key": "k-root"}
    )

    # Then the caller is the account's root
    identity = local_api.fake.last_event["requestContext"]["identity"]
    assert response.status_code == 200
    assert identity["userArn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert identity["accountId"] == ACCOUNT_ID


def test_path_parameters_stay_percent_encoded_as_on_rest_apis(local_api: LocalApi) -> None:
    # Given an order id with an encoded character
    # When it is requested
    local_api.client.get(local_api.url("/orders/a%40b"))

    # Then path and pathParameters carry it as sent (REST APIs do not decode them)
    event = local_api.fake.last_event
    assert event["path"] == "/orders/a%40b"
    assert event["pathParameters"] == {"orderId": "a%40b"}


def test_greedy_path_parameter_takes_the_rest_of_the_path(local_api: LocalApi) -> None:
    # Given /files/{path+} with an ANY method
    # When a nested path is deleted
    response = local_api.client.delete(local_api.url("/files/2026/report.pdf/"))

    # Then the greedy parameter holds every remaining segment
    assert response.status_code == 200
    assert local_api.fake.last_event["pathParameters"] == {"path": "2026/report.pdf"}
    assert local_api.fake.last_event["resource"] == "/files/{path+}"


# -- the response ---------------------------------------------------------------------------------
def test_proxy_response_is_mapped_to_http(local_api: LocalApi) -> None:
    # Given a function answering 201 with headers, multi-value headers and a body
    local_api.fake.answer(
        {
            "statusCode": 201,
            "headers": {"Location": "/orders/o-9", "X-Flag": True},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": '{"orderId": "o-9"}',
            "isBase64Encoded": False,
        }
    )

    # When the route is called
    response = local_api.client.get(local_api.url("/orders/o-9"))

    # Then the client sees exactly that, with API Gateway's defaults filled in
    assert response.status_code == 201
    assert response.headers["Location"] == "/orders/o-9"
    assert response.headers["X-Flag"] == "true"
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers["Content-Type"] == "application/json"
    assert json_body(response) == {"orderId": "o-9"}


def test_base64_body_becomes_binary_when_accept_names_a_binary_media_type(local_api: LocalApi) -> None:
    # Given a function answering a base64 PNG, on an API with image/png as binary media type
    png = b"\x89PNG\r\n\x1a\n"
    for _ in range(2):
        local_api.fake.answer(
            {
                "statusCode": 200,
                "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(png).decode(),
                "isBase64Encoded": True,
            }
        )

    # When one client accepts image/png and another does not
    binary = local_api.client.get(local_api.url("/files/logo.png"), headers={"Accept": "image/png"})
    text = local_api.client.get(local_api.url("/files/logo.png"), headers={"Accept": "application/json"})

    # Then only the first gets bytes; the second gets the base64 text, as on AWS
    assert binary.get_data() == png
    assert text.get_data() == base64.b64encode(png)


@pytest.mark.parametrize(
    ("payload", "errored"),
    [
        ({"errorMessage": "boom", "errorType": "RuntimeError"}, True),
        ({"statusCode": 200, "body": {"not": "a string"}}, False),
        ({"statusCode": 200, "body": "ok", "extra": 1}, False),
        ("not json at all", False),
        ({"statusCode": "two hundred"}, False),
    ],
    ids=["function-error", "body-not-string", "extra-field", "not-json", "bad-status"],
)
def test_function_error_or_malformed_answer_is_502(local_api: LocalApi, payload: Any, errored: bool) -> None:
    # Given a function that fails or answers something API Gateway cannot map
    local_api.fake.answer(payload, errored=errored)

    # When the route is called
    response = local_api.client.get(local_api.url("/orders/o-1"))

    # Then the client gets AWS's 502
    assert response.status_code == 502
    assert json_body(response) == {"message": "Internal server error"}
    assert response.headers["x-amzn-ErrorType"] == "InternalServerErrorException"


# -- invoking through the runtime -----------------------------------------------------------------
def test_throttled_function_is_api_gateways_500(local_api: LocalApi) -> None:
    # Given a function at its reserved concurrency: the runtime throttles the next invocation
    local_api.fake.refuse(Throttled("orders-handler", "ReservedFunctionConcurrentInvocationLimitExceeded"))

    # When the route is called
    response = local_api.client.get(local_api.url("/orders/o-1"))

    # Then the client gets API Gateway's 500 (Lambda's 429 never reaches it) and the trace says why
    assert response.status_code == 500
    assert json_body(response) == {"message": "Internal server error"}
    assert response.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    record = local_api.trace.records(kind="apigateway")[-1]
    assert record["status"] == 500
    assert record["function"] == "orders-handler"
    assert "throttled" in record["reason"]
    assert "ReservedFunctionConcurrentInvocationLimitExceeded" in record["reason"]


def test_function_without_code_is_a_configuration_error(local_api: LocalApi, tmp_path: Path) -> None:
    # Given the proxy in front of localcloud's own runtime, which has no code for the function
    settings = Settings(port=4566, state_dir=tmp_path)
    runtime = Runtime(settings, fair_clock=FairClock(), project_root=tmp_path)
    trace = Trace()
    client = serve(ApiGatewayProxy(settings, trace, runtime=runtime))

    # When the route is called
    response = client.get(local_api.url("/orders/o-1"))

    # Then API Gateway's configuration error comes back and the trace says what is missing
    assert response.status_code == 500
    assert json_body(response) == {"message": "Internal server error"}
    assert response.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    record = trace.records(kind="apigateway")[-1]
    assert record["status"] == 500
    assert "has no code for Lambda function" in record["reason"]


def test_proxy_reads_under_the_backend_lock_and_lets_go_of_it(local_api: LocalApi) -> None:
    # Given a route to the function
    # When it is called
    response = local_api.client.get(local_api.url("/orders/o-1"))

    # Then the proxy held moto's backend lock when it invoked (the runtime lets go of it while the
    # handler runs), and no longer holds it once it has answered
    assert response.status_code == 200
    assert local_api.fake.lock_held == [True]
    assert not BACKENDS.held
