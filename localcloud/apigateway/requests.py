"""A request's way to its method: the invoke path, the resource it reaches, parameters, the body's model."""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request

from localcloud.apigateway.errors import BAD_REQUEST_BODY, BAD_REQUEST_PARAMETERS, GatewayError

USER_REQUEST = "_user_request_"
# /restapis/{api}/{stage}/_user_request_[/path]: the management API never has `_user_request_` as the
# fourth segment, except GetStage of a stage literally named `_user_request_` (see handles()).
INVOKE_PATH = re.compile(r"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/" + USER_REQUEST + r"(?P<rest>/.*)?$")
_PARAM = re.compile(r"^\{(?P<name>[^{}+]+)\}$")
_GREEDY = re.compile(r"^\{(?P<name>[^{}+]+)\+\}$")
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


@dataclass
class Invocation:
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


# -- routing ------------------------------------------------------------------------------------
def raw_path(request: Request, decoded_rest: str | None) -> str:
    """The path after the stage as the client sent it: REST APIs pass it (and path parameters) undecoded."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    raw = raw.split("?", 1)[0].split("#", 1)[0]
    marker = f"/{USER_REQUEST}"
    # Without the raw URI (not every WSGI server gives one), re-encode the decoded path.
    rest = raw.split(marker, 1)[1] if marker in raw else quote(decoded_rest or "", safe="/:@!$&'()*+,;=-._~")
    return rest if rest.startswith("/") else "/" + rest


def route(api: Any, path: str) -> tuple[Any, dict[str, str]] | None:
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


# -- parameters ---------------------------------------------------------------------------------
def request_value(call: Invocation, source: str) -> str | None:
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


def _missing_parameters(call: Invocation) -> list[str]:
    required = call.method.request_parameters or {}
    missing = []
    # Sorted by the full parameter key, so headers come before path and query parameters.
    for key in sorted(required):
        if not truthy(required[key]):
            continue
        parts = key.split(".", 3)
        if len(parts) != 4 or parts[:2] != ["method", "request"]:
            continue
        if request_value(call, key) is None:
            missing.append(parts[3])
    return missing


# -- request validation -------------------------------------------------------------------------
def validate(api: Any, call: Invocation) -> None:
    """Runs the method's request validator, if it has one: required parameters, then the body's model."""
    validator = api.request_validators.get(call.method.request_validator_id or "")
    if validator is None:
        return
    if truthy(validator.validate_request_parameters):
        missing = _missing_parameters(call)
        if missing:
            message = f"Missing required request parameters: [{', '.join(missing)}]"
            raise GatewayError(BAD_REQUEST_PARAMETERS, message)
    if truthy(validator.validate_request_body):
        problem = _body_problem(api, call)
        if problem:
            raise GatewayError(
                BAD_REQUEST_BODY,
                "Invalid request body",
                reason=f"invalid request body: {problem}",
                validation_error=problem,
            )


def _body_problem(api: Any, call: Invocation) -> str | None:
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


def truthy(value: Any) -> bool:
    """A flag in moto's state: a boolean, or the string a patch operation set ("true", "True")."""
    return value is True or str(value).lower() == "true"
