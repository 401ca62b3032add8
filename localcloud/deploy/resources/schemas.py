"""Handlers for the EventBridge schema registry: moto has no `schemas` service, so these check and record.

A schema's content is checked as EventBridge checks it on create (JSON, and a valid schema of its type),
so a broken schema fails the local deploy as it would fail the stack; nothing serves the schemas API.
"""

from __future__ import annotations

import json
from typing import Any

from localcloud.deploy.resources.common import Created, DeployError, ResourceCall, as_json

# The draft-04 check is jsonschema's; OpenAPI 3 documents are checked for their shape only.
SCHEMA_TYPES = ("JSONSchemaDraft4", "OpenApi3")
INITIAL_VERSION = "1"


def eventschemas_registry(call: ResourceCall) -> Created:
    name = str(call.props.get("RegistryName") or call.name(64))
    arn = call.arn("schemas", f"registry/{name}")
    call.note("recorded only: localcloud serves no schemas API")
    # Ref is the registry's ARN, as in CloudFormation.
    return Created(arn, {"RegistryArn": arn, "RegistryName": name})


def eventschemas_schema(call: ResourceCall) -> Created:
    p = call.props
    registry = str(p["RegistryName"])
    type_ = str(p["Type"])
    if type_ not in SCHEMA_TYPES:
        raise DeployError(
            f"{call.stack}/{call.logical_id}: schema Type {type_!r} is not one of {SCHEMA_TYPES}"
        )
    document = _document(call, as_json(p["Content"]))
    if type_ == "JSONSchemaDraft4":
        from jsonschema import Draft4Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft4Validator.check_schema(document)
        except SchemaError as error:
            raise DeployError(
                f"{call.stack}/{call.logical_id}: Content is not a draft-04 JSON Schema: {error.message}"
            ) from None
    elif not isinstance(document.get("openapi"), str) or "components" not in document:
        raise DeployError(f"{call.stack}/{call.logical_id}: Content is not an OpenAPI 3 document")
    name = str(p.get("SchemaName") or call.name(385))
    arn = call.arn("schemas", f"schema/{registry}/{name}")
    return Created(arn, {"SchemaArn": arn, "SchemaName": name, "SchemaVersion": INITIAL_VERSION})


def _document(call: ResourceCall, content: str) -> dict[str, Any]:
    try:
        document = json.loads(content)
    except ValueError as error:
        raise DeployError(f"{call.stack}/{call.logical_id}: Content is not JSON ({error})") from None
    if not isinstance(document, dict):
        raise DeployError(f"{call.stack}/{call.logical_id}: Content is not a JSON object")
    return document
