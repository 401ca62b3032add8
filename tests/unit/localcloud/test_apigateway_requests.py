"""Tests for what the API Gateway proxy checks before the integration: validation and authorization."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from localcloud.core.settings import ACCOUNT_ID, REGION
from tests.unit.localcloud import apigateway_helpers
from tests.unit.localcloud.apigateway_helpers import (
    SIGNED,
    VALID_ORDER,
    LocalApi,
    json_body,
    lambda_uri,
    proxy_method,
)

# The shared fixture, bound here so pytest finds it in this module.
local_api = apigateway_helpers.local_api


# -- validation ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"customerId": "c-1"},
        {"customerId": "c-1", "items": []},
        {"customerId": "c-1", "items": [{"sku": "book", "quantity": 0}]},
        {**VALID_ORDER, "unexpected": True},
        "not json",
    ],
    ids=["required", "minItems", "minimum", "additionalProperties", "not-json"],
)
def test_body_that_breaks_the_model_is_400(local_api: LocalApi, body: Any) -> None:
    # Given a signed POST /orders whose body breaks the Order model
    data = body if isinstance(body, str) else json.dumps(body)

    # When it is sent
    response = local_api.client.post(
        local_api.url("/orders"),
        data=data,
        content_type="application/json",
        headers={**SIGNED, "Idempotency-Key": "k-1"},
    )

    # Then API Gateway's answer comes back, the function is not called and the trace says why
    assert response.status_code == 400
    assert json_body(response) == {"message": "Invalid request body"}
    assert response.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert local_api.fake.events == []
    assert "invalid request body:" in local_api.trace.records(kind="apigateway")[-1]["reason"]


def test_missing_required_parameter_is_400(local_api: LocalApi) -> None:
    # Given a signed, valid POST /orders without its required Idempotency-Key header
    # When it is sent
    response = local_api.client.post(local_api.url("/orders"), json=VALID_ORDER, headers=SIGNED)

    # Then API Gateway names the missing parameter
    assert response.status_code == 400
    assert json_body(response) == {"message": "Missing required request parameters: [Idempotency-Key]"}
    assert local_api.fake.events == []


# -- authorization ---------------------------------------------------------------------------------
def test_aws_iam_method_without_authorization_is_403(local_api: LocalApi) -> None:
    # Given an unsigned POST to the AWS_IAM method
    # When it is sent
    response = local_api.client.post(
        local_api.url("/orders"), json=VALID_ORDER, headers={"Idempotency-Key": "k-1"}
    )

    # Then AWS's answer tells the client to sign
    assert response.status_code == 403
    assert json_body(response) == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert local_api.fake.events == []


def test_aws_iam_method_with_a_non_sigv4_authorization_is_403(local_api: LocalApi) -> None:
    # Given a bearer token where AWS_IAM wants a signature
    # When it is sent
    response = local_api.client.post(
        local_api.url("/orders"),
        json=VALID_ORDER,
        headers={"Authorization": "Bearer abc", "Idempotency-Key": "k-1"},
    )

    # Then the signature is reported incomplete
    assert response.status_code == 403
    assert "Authorization header requires 'Credential' parameter." in json_body(response)["message"]
    assert response.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


def test_cognito_method_requires_a_token_and_passes_its_claims_unverified(local_api: LocalApi) -> None:
    # Given GET /profile behind a Cognito user pool authorizer
    apigw, api_id = local_api.apigw, local_api.api_id
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    profile = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="profile")["id"]
    authorizer = apigw.create_authorizer(
        restApiId=api_id,
        name="users",
        type="COGNITO_USER_POOLS",
        providerARNs=[f"arn:aws:cognito-idp:{REGION}:{ACCOUNT_ID}:userpool/{REGION}_pool"],
        identitySource="method.request.header.Authorization",
    )["id"]
    proxy_method(
        apigw,
        api_id,
        profile,
        "GET",
        lambda_uri(local_api.function_arn),
        authorizationType="COGNITO_USER_POOLS",
        authorizerId=authorizer,
    )
    claims = base64.urlsafe_b64encode(json.dumps({"sub": "user-1", "email_verified": True}).encode())
    token = f"eyJhbGciOiJub25lIn0.{claims.decode().rstrip('=')}.signature"

    # When it is called without a token, then with one
    anonymous = local_api.client.get(local_api.url("/profile"))
    signed_in = local_api.client.get(local_api.url("/profile"), headers={"Authorization": token})

    # Then the first is AWS's 401 and the second reaches the function with the token's claims
    assert anonymous.status_code == 401
    assert json_body(anonymous) == {"message": "Unauthorized"}
    assert signed_in.status_code == 200
    authorizer_context = local_api.fake.last_event["requestContext"]["authorizer"]
    assert authorizer_context == {"claims": {"sub": "user-1", "email_verified": "true"}}
