"""Tests for localcloud's API Gateway proxy: REST v1 Lambda proxy events, validation, auth and routing."""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from werkzeug.test import Client
from werkzeug.wrappers import Response

from localcloud.apigateway import ApiGatewayProxy, function_in_uri
from localcloud.core import ACCOUNT_ID, REGION, Settings, Trace
from localcloud.server import LocalCloudApp

ROOT = Path(__file__).resolve().parents[3]
SIGNED = {
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20260101/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0123abcd"
    ),
    "X-Amz-Date": "20260101T000000Z",
}
ORDER_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Order",
    "type": "object",
    "required": ["customerId", "items"],
    "additionalProperties": False,
    "properties": {
        "customerId": {"type": "string", "minLength": 1},
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["sku", "quantity"],
                "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
            },
        },
    },
}
VALID_ORDER = {"customerId": "c-1", "items": [{"sku": "book", "quantity": 2}]}
OK_ANSWER = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}


@dataclass
class FakeLambda:
    """Stands in for the in-process runtime: records each event, answers what the test scripted."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: list[tuple[str, bool, str]] = field(default_factory=list)

    def answer(self, payload: Any, *, errored: bool = False) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.answers.append((text, errored, ""))

    def invoke(self, function: Any, event: Any = None) -> tuple[str, bool, str]:
        self.events.append((function.function_name, event))
        return self.answers.pop(0) if self.answers else (json.dumps(OK_ANSWER), False, "")

    @property
    def last_event(self) -> dict[str, Any]:
        return self.events[-1][1]


@dataclass
class LocalApi:
    """A REST API in moto, the proxy in front of it and a werkzeug client on a LocalCloudApp."""

    api_id: str
    function_arn: str
    proxy: ApiGatewayProxy
    client: Client
    trace: Trace
    fake: FakeLambda
    moto_paths: list[str]
    apigw: Any

    def url(self, path: str, stage: str = "prod") -> str:
        return f"/restapis/{self.api_id}/{stage}/_user_request_{path}"


@functools.cache
def _client(service: str) -> Any:
    # Made once, inside the first mock: creating boto3 clients is most of each test's setup time.
    return boto3.client(service, region_name=REGION)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def _function(name: str) -> str:
    role = _client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    created = _client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler", Code={"ZipFile": _zip()}
    )
    return str(created["FunctionArn"])


def _lambda_uri(function_arn: str) -> str:
    # The shape CDK renders with Fn::Join around the function's Arn.
    return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def _proxy_method(
    apigw: Any, api_id: str, resource_id: str, http_method: str, uri: str, **kwargs: Any
) -> None:
    apigw.put_method(restApiId=api_id, resourceId=resource_id, httpMethod=http_method, **kwargs)
    apigw.put_integration(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod=http_method,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=uri,
    )


def _build_api(apigw: Any, function_arn: str) -> str:
    """/orders (POST, AWS_IAM, validated; OPTIONS as CDK's CORS preflight), /orders/{orderId} (GET),
    /files/{path+} (ANY), deployed to stage prod with a stage variable."""
    api_id = apigw.create_rest_api(name="orders-api")["id"]
    # moto's CreateRestApi drops binaryMediaTypes; a patch keeps them.
    apigw.update_rest_api(
        restApiId=api_id, patchOperations=[{"op": "add", "path": "/binaryMediaTypes", "value": "image/png"}]
    )
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    orders = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="orders")["id"]
    order = apigw.create_resource(restApiId=api_id, parentId=orders, pathPart="{orderId}")["id"]
    files = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="files")["id"]
    greedy = apigw.create_resource(restApiId=api_id, parentId=files, pathPart="{path+}")["id"]
    apigw.create_model(
        restApiId=api_id, name="Order", contentType="application/json", schema=json.dumps(ORDER_SCHEMA)
    )
    validator = apigw.create_request_validator(
        restApiId=api_id, name="body-and-params", validateRequestBody=True, validateRequestParameters=True
    )["id"]
    uri = _lambda_uri(function_arn)
    _proxy_method(
        apigw,
        api_id,
        orders,
        "POST",
        uri,
        authorizationType="AWS_IAM",
        requestValidatorId=validator,
        requestModels={"application/json": "Order"},
        requestParameters={"method.request.header.Idempotency-Key": True},
        operationName="CreateOrder",
    )
    _proxy_method(apigw, api_id, order, "GET", uri, authorizationType="NONE")
    _proxy_method(apigw, api_id, greedy, "ANY", uri, authorizationType="NONE")
    # CDK's defaultCorsPreflightOptions: a MOCK with a not-quite-JSON request template.
    apigw.put_method(restApiId=api_id, resourceId=orders, httpMethod="OPTIONS", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api_id,
        resourceId=orders,
        httpMethod="OPTIONS",
        type="MOCK",
        requestTemplates={"application/json": "{ statusCode: 200 }"},
    )
    apigw.put_integration_response(
        restApiId=api_id,
        resourceId=orders,
        httpMethod="OPTIONS",
        statusCode="204",
        responseParameters={
            "method.response.header.Access-Control-Allow-Origin": "'*'",
            "method.response.header.Access-Control-Allow-Methods": "'OPTIONS,POST'",
        },
    )
    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"env": "local"})
    return str(api_id)


def _dummy_moto(paths: list[str]) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        paths.append(environ["PATH_INFO"])
        return Response("moto", status=200)(environ, start_response)

    return app


@pytest.fixture
def local_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalApi]:
    fake = FakeLambda()
    with mock_aws():
        # A plain function, so moto's instance is passed as `function` like the real patch gets it.
        def invoke_lambda(function: Any, event: Any = None) -> tuple[str, bool, str]:
            return fake.invoke(function, event)

        monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke_lambda)
        apigw = _client("apigateway")
        function_arn = _function("orders-handler")
        api_id = _build_api(apigw, function_arn)
        trace = Trace()
        proxy = ApiGatewayProxy(Settings(port=4566), trace)
        moto_paths: list[str] = []
        moto_app = _dummy_moto(moto_paths)
        app = LocalCloudApp(moto_app)
        proxy.mount(app)
        yield LocalApi(api_id, function_arn, proxy, Client(app), trace, fake, moto_paths, apigw)


def _body(response: Any) -> Any:
    return json.loads(response.get_data(as_text=True))


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
    assert _body(response) == {"orderId": "o-9"}


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
    assert _body(response) == {"message": "Internal server error"}
    assert response.headers["x-amzn-ErrorType"] == "InternalServerErrorException"


# -- validation -----------------------------------------------------------------------------------
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
    assert _body(response) == {"message": "Invalid request body"}
    assert response.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert local_api.fake.events == []
    assert "invalid request body:" in local_api.trace.records(kind="apigateway")[-1]["reason"]


def test_missing_required_parameter_is_400(local_api: LocalApi) -> None:
    # Given a signed, valid POST /orders without its required Idempotency-Key header
    # When it is sent
    response = local_api.client.post(local_api.url("/orders"), json=VALID_ORDER, headers=SIGNED)

    # Then API Gateway names the missing parameter
    assert response.status_code == 400
    assert _body(response) == {"message": "Missing required request parameters: [Idempotency-Key]"}
    assert local_api.fake.events == []


# -- authorization and routing --------------------------------------------------------------------
def test_aws_iam_method_without_authorization_is_403(local_api: LocalApi) -> None:
    # Given an unsigned POST to the AWS_IAM method
    # When it is sent
    response = local_api.client.post(
        local_api.url("/orders"), json=VALID_ORDER, headers={"Idempotency-Key": "k-1"}
    )

    # Then AWS's answer tells the client to sign
    assert response.status_code == 403
    assert _body(response) == {"message": "Missing Authentication Token"}
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
    assert "Authorization header requires 'Credential' parameter." in _body(response)["message"]
    assert response.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/unknown"), ("GET", "/orders/o-1/lines"), ("DELETE", "/orders"), ("GET", "/files")],
    ids=["unknown-path", "too-deep", "wrong-method", "greedy-needs-a-segment"],
)
def test_unknown_route_or_method_is_403(local_api: LocalApi, method: str, path: str) -> None:
    # Given a path or method the API does not have
    # When it is called
    response = local_api.client.open(local_api.url(path), method=method)

    # Then REST API's answer for unknown routes comes back
    assert response.status_code == 403
    assert _body(response) == {"message": "Missing Authentication Token"}
    assert local_api.fake.events == []


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
    _proxy_method(
        apigw,
        api_id,
        profile,
        "GET",
        _lambda_uri(local_api.function_arn),
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
    assert _body(anonymous) == {"message": "Unauthorized"}
    assert signed_in.status_code == 200
    authorizer_context = local_api.fake.last_event["requestContext"]["authorizer"]
    assert authorizer_context == {"claims": {"sub": "user-1", "email_verified": "true"}}


def test_unknown_stage_is_403_forbidden(local_api: LocalApi) -> None:
    # Given a stage that was never deployed
    # When it is called
    response = local_api.client.get(local_api.url("/orders/o-1", stage="dev"))

    # Then AWS's plain Forbidden comes back
    assert response.status_code == 403
    assert _body(response) == {"message": "Forbidden"}


def test_configured_gateway_response_shapes_gateway_errors(local_api: LocalApi) -> None:
    # Given a DEFAULT_4XX gateway response adding a CORS header (CDK's addGatewayResponse)
    local_api.apigw.put_gateway_response(
        restApiId=local_api.api_id,
        responseType="DEFAULT_4XX",
        responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
        responseTemplates={"application/json": '{"error": $context.error.messageString}'},
    )

    # When a route that does not exist is called
    response = local_api.client.get(local_api.url("/nowhere"))

    # Then the 403 carries the header and the template
    assert response.status_code == 403
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert _body(response) == {"error": "Missing Authentication Token"}


def test_cors_preflight_mock_answers_its_integration_response(local_api: LocalApi) -> None:
    # Given CDK's CORS preflight MOCK on /orders
    # When a browser sends OPTIONS
    response = local_api.client.options(local_api.url("/orders"), headers={"Origin": "http://localhost"})

    # Then the integration response answers without calling any function
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "OPTIONS,POST"
    assert local_api.fake.events == []


def test_management_paths_still_reach_moto(local_api: LocalApi) -> None:
    # Given management API paths that share the /restapis/ prefix
    api = local_api.api_id
    management = [
        f"/restapis/{api}",
        f"/restapis/{api}/stages/prod",
        f"/restapis/{api}/resources/abc123/methods/GET",
        f"/restapis/{api}/stages/_user_request_",
    ]

    # When they are called through the app
    answers = [local_api.client.get(path) for path in management]

    # Then moto serves every one, and only invoke paths are the proxy's
    assert [a.get_data(as_text=True) for a in answers] == ["moto"] * len(management)
    assert local_api.moto_paths == management
    assert not any(ApiGatewayProxy.handles(path) for path in management)
    assert ApiGatewayProxy.handles(local_api.url("/orders"))
    assert ApiGatewayProxy.handles(local_api.url(""))


def test_url_for_is_the_base_before_the_resource_path(local_api: LocalApi) -> None:
    # Given the proxy on the default endpoint
    # When the invoke URL is asked for
    url = local_api.proxy.url_for(local_api.api_id, "prod")

    # Then it is the endpoint plus the invoke prefix, and urls() lists the deployed stage
    assert url == f"http://127.0.0.1:4566/restapis/{local_api.api_id}/prod/_user_request_"
    assert local_api.proxy.urls() == {"orders-api/prod": url}


def test_each_request_leaves_a_trace_line(local_api: LocalApi) -> None:
    # Given one request that reaches the function
    # When it is served
    local_api.client.get(local_api.url("/orders/o-7"))

    # Then the trace has method, path, resource, function, status and duration
    record = local_api.trace.records(kind="apigateway")[-1]
    assert record["method"] == "GET"
    assert record["path"] == "/orders/o-7"
    assert record["resource"] == "/orders/{orderId}"
    assert record["function"] == "orders-handler"
    assert record["status"] == 200
    assert record["duration_ms"] >= 0
    assert record["authorization"] == "NONE"


# -- CDK templates --------------------------------------------------------------------------------
def _render(value: Any, region: str = REGION) -> Any:
    """Just enough of Ref/GetAtt/Join to read an integration Uri out of a synthesized template."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            pseudo = {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": ACCOUNT_ID}
            return pseudo.get(arg, arg)
        if key == "Fn::GetAtt":
            return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{arg[0]}"
        if key == "Fn::Join":
            return str(arg[0]).join(str(_render(part, region)) for part in arg[1])
    return value


def test_cdk_out_rest_apis_use_what_the_proxy_serves() -> None:
    # Given the app's synthesized templates (skipped until a stack has a RestApi)
    cdk_out = Path(os.environ.get("CDK_OUT") or ROOT / "cdk.out")
    templates = [json.loads(p.read_text()) for p in sorted(cdk_out.glob("*.template.json"))]
    methods = [
        resource["Properties"]
        for template in templates
        if any(r.get("Type") == "AWS::ApiGateway::RestApi" for r in template.get("Resources", {}).values())
        for resource in template["Resources"].values()
        if resource.get("Type") == "AWS::ApiGateway::Method"
    ]
    if not methods:
        pytest.skip(f"no AWS::ApiGateway::RestApi in {cdk_out}")

    # When each method's integration is read as the deployer would resolve it
    integrations = [method.get("Integration", {}) for method in methods]

    # Then every one is a Lambda proxy the proxy can invoke, or a MOCK
    for integration in integrations:
        assert integration.get("Type") in ("AWS_PROXY", "MOCK"), integration
        if integration["Type"] == "AWS_PROXY":
            assert integration.get("IntegrationHttpMethod") == "POST"
            assert function_in_uri(_render(integration["Uri"])), integration["Uri"]
