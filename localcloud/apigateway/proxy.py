"""API Gateway REST APIs locally: execute-api calls routed to Lambda proxy integrations in moto's state."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request, Response

from localcloud.aws import Arn, lambda_backend
from localcloud.core import Settings, Trace

USER_REQUEST = "_user_request_"
# /restapis/{api}/{stage}/_user_request_[/path]: the management API never has `_user_request_` as the
# fourth segment, except GetStage of a stage literally named `_user_request_` (see handles()).
_INVOKE_PATH = re.compile(r"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/" + USER_REQUEST + r"(?P<rest>/.*)?$")
_LAMBDA_URI = re.compile(
    r"^arn:[a-z-]+:apigateway:(?P<region>[^:]*):lambda:path/2015-03-31/functions/(?P<function>.+?)"
    r"/invocations/?$"
)
_PARAM = re.compile(r"^\{(?P<name>[^{}+]+)\}$")
_GREEDY = re.compile(r"^\{(?P<name>[^{}+]+)\+\}$")
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.(?P<name>[A-Za-z0-9_]+)\}")
_MOCK_STATUS = re.compile(r"""["']?statusCode["']?\s*:\s*["']?(?P<status>\d{3})""")
_PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
# Headers API Gateway drops from the proxy event (hop-by-hop or recomputed).
_DROPPED_HEADERS = frozenset({"content-length", "connection"})
# API Gateway's own integration timeout when the integration sets none.
_DEFAULT_TIMEOUT_MS = 29_000
_MODEL_URI = "https://apigateway.amazonaws.com/restapis/{api}/models/{name}"
# API Gateway's built-in models, which CDK refers to by name without creating them.
_BUILTIN_MODELS: dict[str, dict[str, Any]] = {
    "Empty": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "Empty Schema",
        "type": "object",
    },
    "Error": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "Error Schema",
        "type": "object",
        "properties": {"message": {"type": "string"}},
    },
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class _GatewayAnswer:
    """One of API Gateway's own responses (a gateway response type), with its defaults."""

    type: str
    status: int
    error_type: str


MISSING_AUTHENTICATION_TOKEN = _GatewayAnswer(
    "MISSING_AUTHENTICATION_TOKEN", 403, "MissingAuthenticationTokenException"
)
INVALID_SIGNATURE = _GatewayAnswer("INVALID_SIGNATURE", 403, "IncompleteSignatureException")
UNAUTHORIZED = _GatewayAnswer("UNAUTHORIZED", 401, "UnauthorizedException")
INVALID_API_KEY = _GatewayAnswer("INVALID_API_KEY", 403, "ForbiddenException")
BAD_REQUEST_PARAMETERS = _GatewayAnswer("BAD_REQUEST_PARAMETERS", 400, "BadRequestException")
BAD_REQUEST_BODY = _GatewayAnswer("BAD_REQUEST_BODY", 400, "BadRequestException")
API_CONFIGURATION_ERROR = _GatewayAnswer("API_CONFIGURATION_ERROR", 500, "InternalServerErrorException")
INTEGRATION_TIMEOUT = _GatewayAnswer("INTEGRATION_TIMEOUT", 504, "InternalServerErrorException")
# A failed or malformed Lambda proxy answer: AWS's 502, a DEFAULT_5XX response.
LAMBDA_FAILURE = _GatewayAnswer("DEFAULT_5XX", 502, "InternalServerErrorException")


class GatewayError(Exception):
    """API Gateway answers the client itself; `reason` is what its execution log would say."""

    def __init__(
        self, answer: _GatewayAnswer, message: str, *, reason: str = "", validation_error: str = ""
    ) -> None:
        super().__init__(message)
        self.answer = answer
        self.message = message
        self.reason = reason or message
        self.validation_error = validation_error


class NotEmulated(Exception):
    """The API uses something localcloud does not run; answered with 501 and a clear message."""


@dataclass
class _Invocation:
    """What one request collected on its way through: for the event, the response and the trace."""

    request: Request
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    extended_request_id: str = field(
        default_factory=lambda: base64.b64encode(os.urandom(12)).decode()[:15] + "="
    )
    started: float = field(default_factory=time.time)
    api_id: str = ""
    stage: str = ""
    path: str = "/"
    resource: Any = None
    method: Any = None
    path_parameters: dict[str, str] = field(default_factory=dict)
    function: str = ""
    identity: dict[str, Any] = field(default_factory=dict)
    authorizer: dict[str, Any] | None = None


class ApiGatewayProxy:
    """Answers `{endpoint}/restapis/{api}/{stage}/_user_request_/{path}` as the API's execute-api URL would.

    Reads the REST API from moto's apigateway backend at each request, routes the path to a resource
    (literal parts, then `{param}`, then greedy `{proxy+}`; trailing slashes ignored), picks the method
    (exact, else ANY), and runs what API Gateway runs before the integration: IAM signature presence,
    Cognito/custom authorizer identity sources, API keys, request validation (parameters, then body
    against the JSON-schema draft-04 model, with `jsonschema`). AWS_PROXY integrations to Lambda get the
    REST v1 proxy event through `LambdaFunction._invoke_lambda`; simple MOCK integrations answer their
    integration response. API Gateway's own errors use the API's gateway responses when it has them.

    Not emulated: stage throttling, usage-plan quotas, access and execution logging, caching, resource
    policies, IAM enforcement (any SigV4 Authorization header passes), JWT verification (Cognito tokens
    are decoded, never verified), running custom (Lambda) authorizers, Lambda resource-policy checks,
    VTL mapping templates, HTTP/AWS/HTTP_PROXY integrations (501). Deployments are not snapshots: the
    stage serves the API as moto holds it now. Header names reach the function as WSGI rebuilds them
    (Title-Case), and repeated request headers arrive joined by commas as one value.
    """

    def __init__(self, settings: Settings, trace: Trace) -> None:
        self._settings = settings
        self._trace = trace

    # -- routing --------------------------------------------------------------------------------
    def url_for(self, rest_api_id: str, stage: str) -> str:
        """The local invoke URL: what goes before `/orders` where AWS has `https://{id}.execute-api.../{stage}`."""
        return f"{self._settings.endpoint_url}/restapis/{rest_api_id}/{stage}/{USER_REQUEST}"

    def urls(self) -> dict[str, str]:
        """Every deployed stage's local invoke URL, keyed `{api name}/{stage}`: for banners and outputs."""
        backend = self._backend()
        return {
            f"{api.name}/{stage}": self.url_for(api.id, stage)
            for api in backend.apis.values()
            for stage in api.stages
        }

    @staticmethod
    def handles(path: str) -> bool:
        """True for execute-api paths; False for every API Gateway management path moto must serve."""
        match = _INVOKE_PATH.match(path)
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
        call = _Invocation(request=request)
        clock = time.monotonic()
        api: Any = None
        reason = ""
        try:
            match = _INVOKE_PATH.match(request.path)
            if match is None:
                raise NotEmulated(f"not an execute-api path: {request.path}")
            call.api_id, call.stage = match["api"], match["stage"]
            call.path = _raw_path(request, match["rest"])
            api = self._backend().apis.get(call.api_id)
            if api is None:
                reason = f"no REST API {call.api_id} in {self._settings.account_id}/{self._settings.region}"
                response = _json(404, {"message": f"localcloud: {reason}"})
            elif call.stage not in api.stages or _truthy(api.disableExecuteApiEndpoint):
                # AWS answers an unknown stage (or a disabled execute-api endpoint) with a plain 403,
                # before any gateway response applies.
                reason = f"no stage {call.stage!r} (or execute-api disabled) on REST API {call.api_id}"
                response = _json(403, {"message": "Forbidden"}, error_type="ForbiddenException")
            else:
                response = self._handle(api, call)
        except GatewayError as error:
            reason = error.reason
            response = self._gateway_response(api, call, error)
        except NotEmulated as error:
            reason = str(error)
            response = _json(501, {"message": f"localcloud: {error}"})
        except Exception as error:
            self._emit(call, None, time.monotonic() - clock, f"{type(error).__name__}: {error}")
            raise
        response.headers["x-amzn-RequestId"] = call.request_id
        response.headers["x-amz-apigw-id"] = call.extended_request_id
        self._emit(call, response.status_code, time.monotonic() - clock, reason)
        return response

    def _handle(self, api: Any, call: _Invocation) -> Response:
        routed = _route(api, call.path)
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
        self._authorize(api, call)
        self._check_api_key(call)
        self._validate(api, call)
        integration = call.method.method_integration
        kind = (integration.integration_type or "").upper() if integration else ""
        if kind == "AWS_PROXY":
            return self._lambda_proxy(api, call, integration)
        if kind == "MOCK":
            return _mock(call, integration)
        raise NotEmulated(
            f"{kind or 'no'} integration on {call.request.method} {call.resource.get_path()} is not "
            "emulated (AWS_PROXY to Lambda and simple MOCK integrations are)"
        )

    # -- before the integration -----------------------------------------------------------------
    def _authorize(self, api: Any, call: _Invocation) -> None:
        request = call.request
        kind = (call.method.authorization_type or "NONE").upper()
        call.identity = _identity(request)
        if kind == "AWS_IAM":
            header = request.headers.get("Authorization")
            presigned = "X-Amz-Signature" in request.args and "X-Amz-Credential" in request.args
            if header is None and not presigned:
                raise GatewayError(
                    MISSING_AUTHENTICATION_TOKEN,
                    "Missing Authentication Token",
                    reason="AWS_IAM method called without a SigV4 signature",
                )
            credential = request.args.get("X-Amz-Credential", "")
            if header is not None:
                missing = _sigv4_gaps(header, request)
                if missing:
                    message = " ".join(missing) + f" Authorization={header}"
                    raise GatewayError(INVALID_SIGNATURE, message, reason="not a SigV4 Authorization header")
                credential = _sigv4_part(header, "Credential")
            # IAM is not emulated: the signature is not checked, the caller is the local account.
            access_key = credential.split("/", 1)[0] or None
            call.identity.update(
                accessKey=access_key,
                accountId=self._settings.account_id,
                caller=access_key,
                user=access_key,
                userArn=f"arn:aws:iam::{self._settings.account_id}:root",
            )
        elif kind in ("COGNITO_USER_POOLS", "CUSTOM"):
            authorizer = api.authorizers.get(call.method.authorizer_id or "")
            sources = _identity_sources(authorizer)
            values = [_request_value(call, source) for source in sources]
            if not values or any(not value for value in values):
                raise GatewayError(
                    UNAUTHORIZED,
                    "Unauthorized",
                    reason=f"{kind} authorizer: missing identity source {', '.join(sources) or '(none)'}",
                )
            if kind == "COGNITO_USER_POOLS":
                # Not verified locally: the token's claims are read as they are.
                call.authorizer = {"claims": _jwt_claims(values[0] or "")}

    def _check_api_key(self, call: _Invocation) -> None:
        if not call.method.api_key_required:
            return
        value = call.request.headers.get("x-api-key")
        keys = self._backend().keys.values()
        key = next((k for k in keys if value and k.value == value and _truthy(k.enabled)), None)
        if key is None:
            raise GatewayError(INVALID_API_KEY, "Forbidden", reason="missing or unknown x-api-key")
        call.identity.update(apiKey=key.value, apiKeyId=key.id)

    def _validate(self, api: Any, call: _Invocation) -> None:
        validator = api.request_validators.get(call.method.request_validator_id or "")
        if validator is None:
            return
        if _truthy(validator.validate_request_parameters):
            missing = _missing_parameters(call)
            if missing:
                message = f"Missing required request parameters: [{', '.join(missing)}]"
                raise GatewayError(BAD_REQUEST_PARAMETERS, message)
        if _truthy(validator.validate_request_body):
            problem = _body_problem(api, call)
            if problem:
                raise GatewayError(
                    BAD_REQUEST_BODY,
                    "Invalid request body",
                    reason=f"invalid request body: {problem}",
                    validation_error=problem,
                )

    # -- the Lambda proxy integration -----------------------------------------------------------
    def _lambda_proxy(self, api: Any, call: _Invocation, integration: Any) -> Response:
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
            payload, errored, _logs = function._invoke_lambda(event=event)
        except Exception as error:
            raise GatewayError(
                LAMBDA_FAILURE, "Internal server error", reason=f"Lambda invocation failed: {error!r}"
            ) from error
        if time.monotonic() - started > timeout_s:
            # The function ran to its end, as it does on AWS; the client had stopped waiting.
            raise GatewayError(
                INTEGRATION_TIMEOUT,
                "Endpoint request timed out",
                reason=f"integration took longer than {timeout_s:g} s",
            )
        if errored:
            raise GatewayError(
                LAMBDA_FAILURE, "Internal server error", reason=f"Lambda function error: {_short(payload)}"
            )
        return _proxy_response(api, call, payload)

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

    def proxy_event(self, api: Any, call: _Invocation) -> dict[str, Any]:
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

    # -- API Gateway's own answers --------------------------------------------------------------
    def _gateway_response(self, api: Any, call: _Invocation, error: GatewayError) -> Response:
        answer = error.answer
        status, headers = answer.status, {"x-amzn-ErrorType": answer.error_type}
        body = json.dumps({"message": error.message})
        configured = None
        if api is not None:
            family = "DEFAULT_5XX" if answer.status >= 500 else "DEFAULT_4XX"
            configured = api.gateway_responses.get(answer.type) or api.gateway_responses.get(family)
        if configured is not None:
            # e.g. CDK's addGatewayResponse for CORS headers on DEFAULT_4XX.
            # A DEFAULT_4XX/5XX status code applies to every type it stands in for, as on AWS.
            if configured.status_code:
                status = int(configured.status_code)
            for target, source in (configured.response_parameters or {}).items():
                if target.startswith("gatewayresponse.header."):
                    value = _parameter_value(call, source)
                    if value is not None:
                        headers[target.removeprefix("gatewayresponse.header.")] = value
            template = (configured.response_templates or {}).get("application/json")
            if template:
                body = _render_error_template(template, call, error)
        response = Response(body, status=status, mimetype="application/json")
        for name, value in headers.items():
            response.headers[name] = value
        return response

    # -- helpers --------------------------------------------------------------------------------
    def _backend(self) -> Any:
        from moto.apigateway.models import apigateway_backends

        return apigateway_backends[self._settings.account_id][self._settings.region]

    def _emit(self, call: _Invocation, status: int | None, seconds: float, reason: str) -> None:
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
        )


def function_in_uri(uri: str) -> str | None:
    """The function ARN (or name) in a Lambda proxy integration Uri, None for any other Uri."""
    match = _LAMBDA_URI.match(uri)
    return match["function"] if match else None


# -- routing ------------------------------------------------------------------------------------
def _raw_path(request: Request, decoded_rest: str | None) -> str:
    """The path after the stage as the client sent it: REST APIs pass it (and path parameters) undecoded."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    raw = raw.split("?", 1)[0].split("#", 1)[0]
    marker = f"/{USER_REQUEST}"
    # Without the raw URI (not every WSGI server gives one), re-encode the decoded path.
    rest = raw.split(marker, 1)[1] if marker in raw else quote(decoded_rest or "", safe="/:@!$&'()*+,;=-._~")
    return rest if rest.startswith("/") else "/" + rest


def _route(api: Any, path: str) -> tuple[Any, dict[str, str]] | None:
    """The resource a path reaches: literal parts first, then `{param}`, then greedy `{param+}`."""
    children: dict[str | None, list[Any]] = {}
    root = None
    for resource in api.resources.values():
        if resource.parent_id is None:
            root = resource
        else:
            children.setdefault(resource.parent_id, []).append(resource)
    if root is None:
        return None
    segments = [segment for segment in path.split("/") if segment]

    def walk(resource: Any, index: int, params: dict[str, str]) -> tuple[Any, dict[str, str]] | None:
        if index == len(segments):
            # A resource without methods is only a path prefix; it answers nothing.
            return (resource, params) if resource.resource_methods else None
        kids = children.get(resource.id, [])
        segment = segments[index]
        for kid in kids:
            if kid.path_part == unquote(segment):
                found = walk(kid, index + 1, params)
                if found:
                    return found
        for kid in kids:
            param = _PARAM.match(kid.path_part)
            if param:
                found = walk(kid, index + 1, {**params, param["name"]: segment})
                if found:
                    return found
        for kid in kids:
            greedy = _GREEDY.match(kid.path_part)
            if greedy and kid.resource_methods:
                return kid, {**params, greedy["name"]: "/".join(segments[index:])}
        return None

    return walk(root, 0, {})


# -- authorization ------------------------------------------------------------------------------
def _identity(request: Request) -> dict[str, Any]:
    return {
        "cognitoIdentityPoolId": None,
        "accountId": None,
        "cognitoIdentityId": None,
        "caller": None,
        "sourceIp": request.remote_addr or "127.0.0.1",
        "principalOrgId": None,
        "accessKey": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": None,
        "userAgent": request.headers.get("User-Agent"),
        "user": None,
    }


def _sigv4_part(header: str, name: str) -> str:
    match = re.search(rf"{name}=([^,\s]+)", header)
    return match.group(1) if match else ""


def _sigv4_gaps(header: str, request: Request) -> list[str]:
    """What a SigV4 Authorization header lacks, in AWS's IncompleteSignatureException words."""
    gaps = [
        f"Authorization header requires '{part}' parameter."
        for part in ("Credential", "Signature", "SignedHeaders")
        if not _sigv4_part(header, part)
    ]
    if not (request.headers.get("X-Amz-Date") or request.headers.get("Date")):
        gaps.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    return gaps


def _identity_sources(authorizer: Any) -> list[str]:
    if authorizer is None:
        return ["method.request.header.Authorization"]
    source = authorizer.identity_source
    if not source:
        # REQUEST authorizers may have no identity source (no caching): nothing to require.
        return [] if (authorizer.type or "").upper() == "REQUEST" else ["method.request.header.Authorization"]
    return [part.strip() for part in str(source).split(",") if part.strip()]


def _jwt_claims(token: str) -> dict[str, str]:
    """A JWT's payload claims, unverified, with values as strings as API Gateway passes them."""
    parts = token.removeprefix("Bearer ").split(".")
    if len(parts) != 3:
        return {}
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error):
        return {}
    if not isinstance(claims, dict):
        return {}
    return {str(k): _claim_text(v) for k, v in claims.items()}


def _claim_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


# -- request validation -------------------------------------------------------------------------
def _missing_parameters(call: _Invocation) -> list[str]:
    required = call.method.request_parameters or {}
    missing = []
    # Sorted by the full parameter key, so headers come before path and query parameters.
    for key in sorted(required):
        if not _truthy(required[key]):
            continue
        parts = key.split(".", 3)
        if len(parts) != 4 or parts[:2] != ["method", "request"]:
            continue
        if _request_value(call, key) is None:
            missing.append(parts[3])
    return missing


def _request_value(call: _Invocation, source: str) -> str | None:
    """A `method.request.{header,querystring,path}.name` value of this request (None when absent)."""
    parts = source.split(".", 3)
    if len(parts) != 4 or parts[:2] != ["method", "request"]:
        return None
    kind, name = parts[2], parts[3]
    if kind == "header":
        return call.request.headers.get(name)
    if kind == "querystring":
        return call.request.args.get(name)
    if kind == "path":
        return call.path_parameters.get(name)
    return None


def _body_problem(api: Any, call: _Invocation) -> str | None:
    """Why the body breaks the method's request model (draft-04), or None if it conforms."""
    import jsonschema
    from jsonschema.exceptions import best_match
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    models = call.method.request_models or {}
    content_type = call.request.mimetype or "application/json"
    name = models.get(content_type) or models.get("$default") or models.get("application/json") or "Empty"
    schemas = {model_name: _schema(model.schema) for model_name, model in api.models.items()}
    for builtin, schema in _BUILTIN_MODELS.items():
        schemas.setdefault(builtin, schema)
    if name not in schemas:
        return f"request model {name!r} does not exist"
    # Models refer to each other by their API Gateway URI.
    registry: Registry[Any] = Registry().with_resources(
        (_MODEL_URI.format(api=api.id, name=model_name), DRAFT4.create_resource(schema))
        for model_name, schema in schemas.items()
    )
    raw = call.request.get_data(cache=True)
    try:
        instance = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"body is not JSON: {error}"
    validator = jsonschema.Draft4Validator(schemas[name], registry=registry)
    worst = best_match(validator.iter_errors(instance))
    if worst is None:
        return None
    where = "/".join(str(part) for part in worst.absolute_path)
    return worst.message + (f" (at /{where})" if where else "")


def _schema(schema: Any) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    try:
        parsed = json.loads(schema or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


# -- event and response -------------------------------------------------------------------------
def _event_body(api: Any, request: Request) -> tuple[str | None, bool]:
    raw = request.get_data(cache=True)
    if not raw:
        return None, False
    if _media_matches(request.mimetype, api.binaryMediaTypes or []):
        return base64.b64encode(raw).decode("ascii"), True
    return raw.decode("utf-8", errors="replace"), False


def _proxy_response(api: Any, call: _Invocation, payload: Any) -> Response:
    """Maps a Lambda proxy answer to the HTTP response; anything malformed is AWS's 502."""
    try:
        answer = json.loads(payload) if isinstance(payload, str | bytes) else payload
    except json.JSONDecodeError:
        answer = None
    problem = _malformed(answer)
    if problem:
        raise GatewayError(
            LAMBDA_FAILURE,
            "Internal server error",
            reason=f"Malformed Lambda proxy response: {problem}: {_short(payload)}",
        )
    status = int(answer.get("statusCode") or 200)
    body = answer.get("body") or ""
    content: str | bytes = body
    if answer.get("isBase64Encoded") and _accepts_binary(api, call.request):
        try:
            content = base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise GatewayError(
                LAMBDA_FAILURE, "Internal server error", reason=f"body is not base64: {error}"
            ) from error
    response = Response(content, status=status)
    response.headers.remove("Content-Type")
    # multiValueHeaders wins over headers for the same name; the rest are merged.
    multi = {
        name: [_header_text(v) for v in values]
        for name, values in (answer.get("multiValueHeaders") or {}).items()
    }
    for name, value in (answer.get("headers") or {}).items():
        if name not in multi:
            response.headers.add(name, _header_text(value))
    for name, values in multi.items():
        for value in values:
            response.headers.add(name, value)
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    return response


def _malformed(answer: Any) -> str | None:
    """Why API Gateway would reject this proxy answer (None when it is well formed)."""
    if not isinstance(answer, dict):
        return "not a JSON object"
    extra = sorted(set(answer) - _PROXY_RESPONSE_KEYS)
    if extra:
        return f"unexpected field(s) {', '.join(extra)}"
    status = answer.get("statusCode")
    if status is not None:
        if isinstance(status, bool) or not isinstance(status, int | str):
            return "statusCode is not a number"
        try:
            if not 100 <= int(status) <= 599:
                return "statusCode out of range"
        except ValueError:
            return "statusCode is not a number"
    if answer.get("body") is not None and not isinstance(answer["body"], str):
        return "body is not a string"
    if answer.get("isBase64Encoded") is not None and not isinstance(answer["isBase64Encoded"], bool):
        return "isBase64Encoded is not a boolean"
    headers = answer.get("headers")
    if headers is not None and (
        not isinstance(headers, dict) or not all(_scalar(v) for v in headers.values())
    ):
        return "headers is not a map of strings"
    multi = answer.get("multiValueHeaders")
    if multi is not None and (
        not isinstance(multi, dict)
        or not all(isinstance(vs, list) and all(_scalar(v) for v in vs) for vs in multi.values())
    ):
        return "multiValueHeaders is not a map of string lists"
    return None


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _accepts_binary(api: Any, request: Request) -> bool:
    """API Gateway turns a base64 proxy body into bytes only when Accept names a binary media type."""
    types = api.binaryMediaTypes or []
    return bool(types) and any(_media_matches(accepted, types) for accepted, _ in request.accept_mimetypes)


def _media_matches(media_type: str | None, patterns: Iterable[str]) -> bool:
    if not media_type:
        return False
    kind, _, sub = media_type.lower().partition("/")
    for pattern in patterns:
        p_kind, _, p_sub = pattern.replace("~1", "/").lower().partition("/")
        if p_kind in ("*", kind) and p_sub in ("*", sub):
            return True
    return False


# -- MOCK -----------------------------------------------------------------------------------------
def _mock(call: _Invocation, integration: Any) -> Response:
    """A MOCK integration whose templates are plain (CDK's CORS preflight, fixed answers)."""
    templates = integration.request_templates or {}
    template = templates.get(call.request.mimetype or "application/json") or templates.get("application/json")
    status = "200"
    if template:
        found = _MOCK_STATUS.search(template)
        if found is None or _is_vtl(template):
            raise NotEmulated("MOCK request templates other than a fixed statusCode are not emulated")
        status = found["status"]
    responses = list((integration.integration_responses or {}).values())
    chosen = next(
        (r for r in responses if r.selection_pattern and re.fullmatch(r.selection_pattern, status)), None
    ) or next((r for r in responses if not r.selection_pattern), None)
    if chosen is None:
        raise GatewayError(
            API_CONFIGURATION_ERROR,
            "Internal server error",
            reason="No match for output mapping and no default output mapping",
        )
    response_templates = chosen.response_templates or {}
    content_type = "application/json" if "application/json" in response_templates else None
    content_type = content_type or next(iter(response_templates), "application/json")
    body = response_templates.get(content_type) or ""
    if _is_vtl(body):
        raise NotEmulated("MOCK response templates with VTL are not emulated")
    response = Response(body, status=int(chosen.status_code), mimetype=content_type)
    for target, source in (chosen.response_parameters or {}).items():
        if target.startswith("method.response.header."):
            value = _parameter_value(call, source)
            if value is not None:
                response.headers[target.removeprefix("method.response.header.")] = value
    return response


def _is_vtl(template: str) -> bool:
    return bool(re.search(r"\$[A-Za-z{!]|#(set|if|foreach)\b", template))


def _parameter_value(call: _Invocation, source: str) -> str | None:
    """A mapping expression's value: a quoted literal, or a method request parameter."""
    if len(source) >= 2 and source[0] == source[-1] == "'":
        return source[1:-1]
    return _request_value(call, source)


def _render_error_template(template: str, call: _Invocation, error: GatewayError) -> str:
    """The few `$context` variables gateway response templates use, substituted; no VTL beyond that."""
    values = {
        "$context.error.messageString": json.dumps(error.message),
        "$context.error.message": error.message,
        "$context.error.responseType": error.answer.type,
        "$context.error.validationErrorString": error.validation_error,
        "$context.requestId": call.request_id,
        "$context.extendedRequestId": call.extended_request_id,
        "$context.stage": call.stage,
        "$context.apiId": call.api_id,
    }
    for name in sorted(values, key=len, reverse=True):
        template = template.replace(name, values[name]).replace("${" + name[1:] + "}", values[name])
    return template


# -- small helpers ------------------------------------------------------------------------------
def _render_stage_variables(text: str, variables: Mapping[str, str] | None) -> str:
    return _STAGE_VARIABLE.sub(lambda m: str((variables or {}).get(m["name"], "")), text)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _json(status: int, body: Any, *, error_type: str | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    if error_type:
        response.headers["x-amzn-ErrorType"] = error_type
    return response


def _clf_time(epoch: float) -> str:
    """`09/Apr/2015:12:34:56 +0000`, independent of the locale."""
    t = time.gmtime(epoch)
    day = f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}"
    return f"{day}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def _short(payload: Any, limit: int = 300) -> str:
    text = payload if isinstance(payload, str) else repr(payload)
    return text if len(text) <= limit else text[:limit] + "..."
