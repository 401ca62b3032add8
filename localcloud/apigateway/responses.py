"""What the client gets back: gateway responses, a Lambda proxy answer as HTTP, and MOCK integrations."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from localcloud.apigateway.errors import API_CONFIGURATION_ERROR, LAMBDA_FAILURE, GatewayError, NotEmulated
from localcloud.apigateway.requests import Invocation, request_value

_MOCK_STATUS = re.compile(r"""["']?statusCode["']?\s*:\s*["']?(?P<status>\d{3})""")
_PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})


# -- API Gateway's own answers --------------------------------------------------------------------
def gateway_response(api: Any, call: Invocation, error: GatewayError) -> Response:
    """The error's answer, shaped by the API's gateway response for its type (or DEFAULT_4XX/5XX)."""
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


def _render_error_template(template: str, call: Invocation, error: GatewayError) -> str:
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


def json_answer(status: int, body: Any, *, error_type: str | None = None) -> Response:
    """An answer of localcloud's own (or API Gateway's before any gateway response applies)."""
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    if error_type:
        response.headers["x-amzn-ErrorType"] = error_type
    return response


# -- the Lambda proxy answer ----------------------------------------------------------------------
def proxy_response(api: Any, call: Invocation, payload: Any) -> Response:
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
            reason=f"Malformed Lambda proxy response: {problem}: {short(payload)}",
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
    return bool(types) and any(media_matches(accepted, types) for accepted, _ in request.accept_mimetypes)


def media_matches(media_type: str | None, patterns: Iterable[str]) -> bool:
    """Whether a media type is one of the API's binary media types (`*` wildcards; `~1` is `/`)."""
    if not media_type:
        return False
    kind, _, sub = media_type.lower().partition("/")
    for pattern in patterns:
        p_kind, _, p_sub = pattern.replace("~1", "/").lower().partition("/")
        if p_kind in ("*", kind) and p_sub in ("*", sub):
            return True
    return False


def short(payload: Any, limit: int = 300) -> str:
    """A payload cut to a length that fits a trace line."""
    text = payload if isinstance(payload, str) else repr(payload)
    return text if len(text) <= limit else text[:limit] + "..."


# -- MOCK -----------------------------------------------------------------------------------------
def mock(call: Invocation, integration: Any) -> Response:
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


def _parameter_value(call: Invocation, source: str) -> str | None:
    """A mapping expression's value: a quoted literal, or a method request parameter."""
    if len(source) >= 2 and source[0] == source[-1] == "'":
        return source[1:-1]
    return request_value(call, source)
