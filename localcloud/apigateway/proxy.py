"""API Gateway REST APIs locally: execute-api calls routed to Lambda proxy integrations in moto's state."""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Mapping
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from localcloud.apigateway.errors import (
    API_CONFIGURATION_ERROR,
    INTEGRATION_TIMEOUT,
    LAMBDA_FAILURE,
    LAMBDA_THROTTLED,
    MISSING_AUTHENTICATION_TOKEN,
    GatewayError,
    NotEmulated,
)
from localcloud.apigateway.identity import authorize, check_api_key
from localcloud.apigateway.requests import (
    INVOKE_PATH,
    USER_REQUEST,
    Invocation,
    raw_path,
    route,
    truthy,
    validate,
)
from localcloud.apigateway.responses import (
    gateway_response,
    json_answer,
    media_matches,
    mock,
    proxy_response,
    short,
)
from localcloud.core.backends import BACKENDS, Arn, lambda_backend
from localcloud.core.settings import Settings
from localcloud.core.trace import Trace
from localcloud.lambda_.runtime import InvocationResult, NotRunnable, Throttled

_LAMBDA_URI = re.compile(
    r"^arn:[a-z-]+:apigateway:(?P<region>[^:]*):lambda:path/2015-03-31/functions/(?P<function>.+?)"
    r"/invocations/?$"
)
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.(?P<name>[A-Za-z0-9_]+)\}")
# Headers API Gateway drops from the proxy event (hop-by-hop or recomputed).
_DROPPED_HEADERS = frozenset({"content-length", "connection"})
# API Gateway's own integration timeout when the integration sets none.
_DEFAULT_TIMEOUT_MS = 29_000
# How much of a response body the trace keeps (enough for the ids an API answers with).
_TRACED_BODY_CHARS = 1024
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class LambdaRuntime(Protocol):
    """What the proxy needs of localcloud's Lambda runtime (`localcloud.lambda_.runtime.Runtime`).

    `invoke` raises Throttled past the function's concurrency and NotRunnable for a function whose
    code localcloud does not have; it lets go of the backend lock while the handler runs.
    """

    def invoke(self, function: Any, event: Any) -> InvocationResult: ...


class ApiGatewayProxy:
    """Answers `{endpoint}/restapis/{api}/{stage}/_user_request_/{path}` as the API's execute-api URL would.

    Reads the REST API from moto's apigateway backend at each request, routes the path to a resource
    (literal parts, then `{param}`, then greedy `{proxy+}`; trailing slashes ignored), picks the method
    (exact, else ANY), and runs what API Gateway runs before the integration: IAM signature presence,
    Cognito/custom authorizer identity sources, API keys, request validation (parameters, then body
    against the JSON-schema draft-04 model, with `jsonschema`). AWS_PROXY integrations to Lambda get the
    REST v1 proxy event through localcloud's Lambda runtime (a throttled function is API Gateway's 500);
    simple MOCK integrations answer their integration response. API Gateway's own errors use the API's
    gateway responses when it has them.

    Not emulated: stage throttling, usage-plan quotas, access and execution logging, caching, resource
    policies, IAM enforcement (any SigV4 Authorization header passes), JWT verification (Cognito tokens
    are decoded, never verified), running custom (Lambda) authorizers, Lambda resource-policy checks,
    VTL mapping templates, HTTP/AWS/HTTP_PROXY integrations (501). Deployments are not snapshots: the
    stage serves the API as moto holds it now. Header names reach the function as WSGI rebuilds them
    (Title-Case), and repeated request headers arrive joined by commas as one value.
    """

    def __init__(self, settings: Settings, trace: Trace, *, runtime: LambdaRuntime) -> None:
        self._settings = settings
        self._trace = trace
        self._runtime = runtime

    # -- routing --------------------------------------------------------------------------------
    def url_for(self, rest_api_id: str, stage: str) -> str:
        """The local invoke URL: what goes before `/orders` where AWS has `https://{id}.execute-api.../{stage}`."""
        return f"{self._settings.endpoint_url}/restapis/{rest_api_id}/{stage}/{USER_REQUEST}"

    def urls(self) -> dict[str, str]:
        """Every deployed stage's local invoke URL, keyed `{api name}/{stage}`: for banners and outputs."""
        with BACKENDS:
            backend = self._backend()
            return {
                f"{api.name}/{stage}": self.url_for(api.id, stage)
                for api in backend.apis.values()
                for stage in api.stages
            }

    @staticmethod
    def handles(path: str) -> bool:
        """True for execute-api paths; False for every API Gateway management path moto must serve."""
        match = INVOKE_PATH.match(path)
        if match is None:
            return False
        # GetStage for a stage named `_user_request_` looks like a call to the root of a stage named
        # "stages"; management calls must never break, so that one shape stays with moto.
        return not (match["stage"] == "stages" and (match["rest"] or "/") == "/")

    def mount(self, app: Any) -> None:
        """Registers this proxy with a LocalCloudApp; management calls under /restapis/ stay with moto."""
        app.match(self.handles, self)

    # -- the request ----------------------------------------------------------------------------
    def __call__(self, request: Request) -> Response:
        call = Invocation(request=request)
        clock = time.monotonic()
        # The body comes off the socket before the lock is taken: a slow client must not hold up others.
        request.get_data(cache=True)
        # moto's API Gateway state is read under the backend lock, from routing to the trace line; the
        # runtime lets go of it while the integration's function runs.
        with BACKENDS:
            return self._serve(call, clock)

    def _serve(self, call: Invocation, clock: float) -> Response:
        request = call.request
        api: Any = None
        reason = ""
        try:
            match = INVOKE_PATH.match(request.path)
            if match is None:
                raise NotEmulated(f"not an execute-api path: {request.path}")
            call.api_id, call.stage = match["api"], match["stage"]
            call.path = raw_path(request, match["rest"])
            api = self._backend().apis.get(call.api_id)
            if api is None:
                reason = f"no REST API {call.api_id} in {self._settings.account_id}/{self._settings.region}"
                response = json_answer(404, {"message": f"localcloud: {reason}"})
            elif call.stage not in api.stages or truthy(api.disableExecuteApiEndpoint):
                # AWS answers an unknown stage (or a disabled execute-api endpoint) with a plain 403,
                # before any gateway response applies.
                reason = f"no stage {call.stage!r} (or execute-api disabled) on REST API {call.api_id}"
                response = json_answer(403, {"message": "Forbidden"}, error_type="ForbiddenException")
            else:
                response = self._handle(api, call)
        except GatewayError as error:
            reason = error.reason
            response = gateway_response(api, call, error)
        except NotEmulated as error:
            reason = str(error)
            response = json_answer(501, {"message": f"localcloud: {error}"})
        except Exception as error:
            self._emit(call, None, time.monotonic() - clock, f"{type(error).__name__}: {error}")
            raise
        response.headers["x-amzn-RequestId"] = call.request_id
        response.headers["x-amz-apigw-id"] = call.extended_request_id
        self._emit(call, response.status_code, time.monotonic() - clock, reason, response)
        return response

    def _handle(self, api: Any, call: Invocation) -> Response:
        routed = route(api, call.path)
        if routed is None:
            raise GatewayError(
                MISSING_AUTHENTICATION_TOKEN,
                "Missing Authentication Token",
                reason=f"no resource matches {call.path}",
            )
        call.resource, call.path_parameters = routed
        methods = call.resource.resource_methods
        call.method = methods.get(call.request.method) or methods.get("ANY")
        if call.method is None:
            # REST APIs answer a known path with an unknown method exactly like an unknown path.
            raise GatewayError(
                MISSING_AUTHENTICATION_TOKEN,
                "Missing Authentication Token",
                reason=f"{call.resource.get_path()} has no {call.request.method} or ANY method",
            )
        authorize(api, call, self._settings.account_id)
        check_api_key(call, self._backend().keys.values())
        validate(api, call)
        integration = call.method.method_integration
        kind = (integration.integration_type or "").upper() if integration else ""
        if kind == "AWS_PROXY":
            return self._lambda_proxy(api, call, integration)
        if kind == "MOCK":
            return mock(call, integration)
        raise NotEmulated(
            f"{kind or 'no'} integration on {call.request.method} {call.resource.get_path()} is not "
            "emulated (AWS_PROXY to Lambda and simple MOCK integrations are)"
        )

    # -- the Lambda proxy integration -----------------------------------------------------------
    def _lambda_proxy(self, api: Any, call: Invocation, integration: Any) -> Response:
        stage = api.stages[call.stage]
        reference = function_in_uri(_render_stage_variables(integration.uri or "", stage.variables))
        if reference is None:
            raise NotEmulated(f"AWS_PROXY integration to {integration.uri!r}: only Lambda is emulated")
        if (integration.http_method or "POST").upper() != "POST":
            # Lambda's Invoke API is a POST; any other integration method fails on AWS too.
            raise GatewayError(
                API_CONFIGURATION_ERROR,
                "Internal server error",
                reason=f"Lambda proxy integration uses {integration.http_method}, not POST",
            )
        function = self._function(reference)
        call.function = function.function_name
        event = self.proxy_event(api, call)
        timeout_s = int(integration.timeout_in_millis or _DEFAULT_TIMEOUT_MS) / 1000
        started = time.monotonic()
        try:
            result = self._runtime.invoke(function, event)
        except Throttled as throttled:
            raise GatewayError(
                LAMBDA_THROTTLED,
                "Internal server error",
                reason=f"Lambda function {call.function} throttled (429, {throttled.reason})",
            ) from throttled
        except NotRunnable as error:
            raise GatewayError(API_CONFIGURATION_ERROR, "Internal server error", reason=str(error)) from error
        except Exception as error:
            raise GatewayError(
                LAMBDA_FAILURE, "Internal server error", reason=f"Lambda invocation failed: {error!r}"
            ) from error
        # Time spent waiting in localcloud's queue for a worker is not the integration's.
        if time.monotonic() - started - result.queued_ms / 1000 > timeout_s:
            # The function ran to its end, as it does on AWS; the client had stopped waiting.
            raise GatewayError(
                INTEGRATION_TIMEOUT,
                "Endpoint request timed out",
                reason=f"integration took longer than {timeout_s:g} s",
            )
        payload = result.payload.decode("utf-8", errors="replace")
        if result.errored:
            raise GatewayError(
                LAMBDA_FAILURE, "Internal server error", reason=f"Lambda function error: {short(payload)}"
            )
        return proxy_response(api, call, payload)

    def _function(self, reference: str) -> Any:
        from moto.awslambda.exceptions import UnknownFunctionException

        account, region = self._settings.account_id, self._settings.region
        if reference.startswith("arn:"):
            arn = Arn.parse(reference)
            account, region = arn.account or account, arn.region or region
        try:
            return lambda_backend(account, region).get_function(reference)
        except UnknownFunctionException as error:
            raise GatewayError(
                API_CONFIGURATION_ERROR,
                "Internal server error",
                reason=f"integration function {reference} does not exist",
            ) from error

    def proxy_event(self, api: Any, call: Invocation) -> dict[str, Any]:
        """The REST API (payload 1.0) Lambda proxy event for this request, as API Gateway builds it."""
        request = call.request
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            if name.lower() in _DROPPED_HEADERS:
                continue
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        # What API Gateway's front end adds on the way in.
        added = {
            "X-Amzn-Trace-Id": f"Root=1-{int(call.started):08x}-{os.urandom(12).hex()}",
            "X-Forwarded-For": request.remote_addr or "127.0.0.1",
            "X-Forwarded-Port": str(request.environ.get("SERVER_PORT") or self._settings.port),
            "X-Forwarded-Proto": request.scheme,
        }
        for name, value in added.items():
            if not any(existing.lower() == name.lower() for existing in headers):
                headers[name] = value
                multi_headers[name] = [value]
        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for name, value in request.args.items(multi=True):
            query[name] = value  # the single-value map keeps the last value, as AWS does
            multi_query.setdefault(name, []).append(value)
        body, is_base64 = _event_body(api, request)
        stage = api.stages[call.stage]
        context: dict[str, Any] = {
            "resourceId": call.resource.id,
            "resourcePath": call.resource.get_path(),
            "httpMethod": request.method,
            "extendedRequestId": call.extended_request_id,
            "requestTime": _clf_time(call.started),
            "path": f"/{call.stage}{call.path}",
            "accountId": self._settings.account_id,
            "protocol": request.environ.get("SERVER_PROTOCOL") or "HTTP/1.1",
            "stage": call.stage,
            "domainPrefix": api.id,
            "requestTimeEpoch": int(call.started * 1000),
            "requestId": call.request_id,
            "identity": call.identity,
            "domainName": f"{api.id}.execute-api.{self._settings.region}.amazonaws.com",
            "apiId": api.id,
        }
        if call.authorizer is not None:
            context["authorizer"] = call.authorizer
        if call.method.operation_name:
            context["operationName"] = call.method.operation_name
        return {
            "resource": call.resource.get_path(),
            "path": call.path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": dict(call.path_parameters) or None,
            "stageVariables": dict(stage.variables or {}) or None,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": is_base64,
        }

    # -- helpers --------------------------------------------------------------------------------
    def _backend(self) -> Any:
        from moto.apigateway.models import apigateway_backends

        return apigateway_backends[self._settings.account_id][self._settings.region]

    def _emit(
        self, call: Invocation, status: int | None, seconds: float, reason: str, response: Any = None
    ) -> None:
        method, path = call.request.method, call.path if call.api_id else call.request.path
        resource = call.resource.get_path() if call.resource is not None else None
        target = f" -> {call.function}" if call.function else ""
        message = (
            f"{method} {path} ({call.api_id}/{call.stage}) -> {resource or '-'}{target}: "
            f"{status if status is not None else 'error'} in {seconds * 1000:.0f} ms"
            + (f" ({reason})" if reason else "")
        )
        self._trace.emit(
            "apigateway",
            message,
            api_id=call.api_id,
            stage=call.stage,
            method=method,
            path=path,
            resource=resource,
            function=call.function or None,
            authorization=(call.method.authorization_type if call.method is not None else None),
            status=status,
            duration_ms=round(seconds * 1000, 1),
            request_id=call.request_id,
            reason=reason or None,
            # Its head: what finds the request that created an order or a trial (the id it answered).
            response_body=_head(response),
        )


def _head(response: Any) -> str | None:
    """The first bytes of a buffered JSON or text response body; None for anything else."""
    if response is None or response.direct_passthrough or response.is_streamed:
        return None
    if "json" not in (response.mimetype or "") and not (response.mimetype or "").startswith("text/"):
        return None
    return str(response.get_data(as_text=True)[:_TRACED_BODY_CHARS])


def function_in_uri(uri: str) -> str | None:
    """The function ARN (or name) in a Lambda proxy integration Uri, None for any other Uri."""
    match = _LAMBDA_URI.match(uri)
    return match["function"] if match else None


def _event_body(api: Any, request: Request) -> tuple[str | None, bool]:
    raw = request.get_data(cache=True)
    if not raw:
        return None, False
    if media_matches(request.mimetype, api.binaryMediaTypes or []):
        return base64.b64encode(raw).decode("ascii"), True
    return raw.decode("utf-8", errors="replace"), False


def _render_stage_variables(text: str, variables: Mapping[str, str] | None) -> str:
    return _STAGE_VARIABLE.sub(lambda m: str((variables or {}).get(m["name"], "")), text)


def _clf_time(epoch: float) -> str:
    """`09/Apr/2015:12:34:56 +0000`, independent of the locale."""
    t = time.gmtime(epoch)
    day = f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}"
    return f"{day}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
