"""What the API Gateway proxy tests share: a REST API in moto, a stand-in Lambda runtime, the fixture."""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws
from werkzeug.test import Client
from werkzeug.wrappers import Response

from localcloud.apigateway.proxy import ApiGatewayProxy
from localcloud.core.backends import BACKENDS
from localcloud.core.http import LocalCloudApp
from localcloud.core.settings import REGION, Settings
from localcloud.core.trace import Trace
from localcloud.lambda_.runtime import UNHANDLED, InvocationResult

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


def invocation_result(payload: str, *, errored: bool = False) -> InvocationResult:
    """What the runtime returns for a handler that answered `payload` (or raised, when errored)."""
    return InvocationResult(
        request_id="req-1",
        payload=payload.encode("utf-8"),
        function_error=UNHANDLED if errored else None,
        log_text="",
        duration_ms=1.0,
    )


@dataclass
class FakeLambda:
    """Stands in for localcloud's Lambda runtime: records each event, answers what the test scripted."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: list[InvocationResult | Exception] = field(default_factory=list)
    # Whether the proxy held the backend lock when it invoked (the real runtime lets go of it).
    lock_held: list[bool] = field(default_factory=list)

    def answer(self, payload: Any, *, errored: bool = False) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.answers.append(invocation_result(text, errored=errored))

    def refuse(self, error: Exception) -> None:
        """The next invocation raises `error`, as the runtime raises Throttled or NotRunnable."""
        self.answers.append(error)

    def invoke(self, function: Any, event: Any) -> InvocationResult:
        self.events.append((function.function_name, event))
        self.lock_held.append(BACKENDS.held)
        answer = self.answers.pop(0) if self.answers else invocation_result(json.dumps(OK_ANSWER))
        if isinstance(answer, Exception):
            raise answer
        return answer

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
def aws_client(service: str) -> Any:
    # Made once, inside the first mock: creating boto3 clients is most of each test's setup time.
    return boto3.client(service, region_name=REGION)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def create_function(name: str) -> str:
    iam = aws_client("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    created = aws_client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler", Code={"ZipFile": _zip()}
    )
    return str(created["FunctionArn"])


def lambda_uri(function_arn: str) -> str:
    # The shape CDK renders with Fn::Join around the function's Arn.
    return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def proxy_method(
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


def build_api(apigw: Any, function_arn: str) -> str:
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
    uri = lambda_uri(function_arn)
    proxy_method(
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
    proxy_method(apigw, api_id, order, "GET", uri, authorizationType="NONE")
    proxy_method(apigw, api_id, greedy, "ANY", uri, authorizationType="NONE")
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


def serve(proxy: ApiGatewayProxy, moto_paths: list[str] | None = None) -> Client:
    """A client of a LocalCloudApp with the proxy mounted; what reaches moto is recorded in moto_paths."""
    app = LocalCloudApp(_dummy_moto([] if moto_paths is None else moto_paths))
    proxy.mount(app)
    return Client(app)


@pytest.fixture
def local_api() -> Iterator[LocalApi]:
    fake = FakeLambda()
    with mock_aws():
        apigw = aws_client("apigateway")
        function_arn = create_function("orders-handler")
        api_id = build_api(apigw, function_arn)
        trace = Trace()
        proxy = ApiGatewayProxy(Settings(port=4566), trace, runtime=fake)
        moto_paths: list[str] = []
        client = serve(proxy, moto_paths)
        yield LocalApi(api_id, function_arn, proxy, client, trace, fake, moto_paths, apigw)


def json_body(response: Any) -> Any:
    return json.loads(response.get_data(as_text=True))
