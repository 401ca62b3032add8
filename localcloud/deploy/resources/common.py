"""Shared by every resource handler: the call, the deployment, what a handler returns, value helpers."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError


class DeployError(Exception):
    """A resource could not be deployed; the message names the stack, logical id and type."""


@dataclass
class DeployedFunction:
    """What the in-process Lambda runtime needs to run one deployed function."""

    function_name: str
    function_arn: str
    code_dir: Path
    logical_id: str
    # moto drops LoggingConfig, so the log group the function writes to travels here.
    log_group: str = ""
    # The code dirs of the layers this deployment published that the function names.
    layer_dirs: list[Path] = field(default_factory=list)


@dataclass
class ApiRoute:
    """One API Gateway REST method: what an HTTP proxy layer needs, since moto cannot invoke AWS_PROXY."""

    stack: str
    logical_id: str
    rest_api_id: str
    resource_id: str
    path: str
    http_method: str
    integration_type: str
    integration_uri: str
    # The Lambda the integration calls, parsed from the Uri; None for non-Lambda integrations.
    function_arn: str | None
    authorization_type: str = "NONE"
    authorizer_id: str | None = None
    api_key_required: bool = False


@dataclass
class Created:
    """A created resource: what Ref returns, and what Fn::GetAtt can read."""

    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Deployment:
    """State shared by every resource of one deploy() call."""

    # Returns a ready boto3 client for a service name; the caller decides where it points.
    make_client: Callable[[str], Any]
    account_id: str
    region: str
    cdk_out: Path
    assets: dict[str, Path]
    on_function: Callable[[DeployedFunction], None] | None
    functions: list[DeployedFunction] = field(default_factory=list)
    api_routes: list[ApiRoute] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    layer_dirs: dict[str, Path] = field(default_factory=dict)
    api_paths: dict[tuple[str, str], str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    def client(self, service: str) -> Any:
        # Client creation loads the service model (~50 ms): one per service for the whole deploy.
        if service not in self._clients:
            self._clients[service] = self.make_client(service)
        return self._clients[service]


@dataclass
class ResourceCall:
    """One resource being created: its resolved properties and the deployment it belongs to."""

    deployment: Deployment
    stack: str
    logical_id: str
    type: str
    props: dict[str, Any]
    metadata: dict[str, Any]

    def client(self, service: str) -> Any:
        return self.deployment.client(service)

    def note(self, message: str) -> None:
        self.deployment.notes.append(f"{self.stack}/{self.logical_id} ({self.type}): {message}")

    def name(
        self,
        max_len: int,
        *,
        with_stack: bool = True,
        sep: str = "-",
        lowercase: bool = False,
        allowed: str = r"A-Za-z0-9\-_",
    ) -> str:
        """A name like the one CloudFormation generates (`stack-LogicalId-SUFFIX`), stable across runs."""
        # A hash, not a random suffix: names stay the same on every local deploy of the same assembly.
        digest = hashlib.sha256(f"{self.stack}/{self.logical_id}".encode()).digest()
        suffix = base64.b32encode(digest).decode()[:12]
        prefix = f"{self.stack}{sep}{self.logical_id}" if with_stack else self.logical_id
        if lowercase:
            prefix, suffix = prefix.lower(), suffix.lower()
        prefix = re.sub(f"[^{allowed}]", sep or "", prefix)
        room = max_len - len(suffix) - len(sep)
        return f"{prefix[:room]}{sep}{suffix}"

    @property
    def account_id(self) -> str:
        return self.deployment.account_id

    @property
    def region(self) -> str:
        return self.deployment.region

    @property
    def partition(self) -> str:
        return self.deployment.partition

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"


Handler = Callable[[ResourceCall], Created]


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


# ---------------------------------------------------------------- value helpers


def as_json(value: Any) -> str:
    """Policy documents, patterns and schemas arrive as objects in templates and as strings in APIs."""
    return value if isinstance(value, str) else json.dumps(value)


def as_text(value: Any) -> str:
    """CloudFormation scalars as the string attribute values the APIs want."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def tag_list(props: Mapping[str, Any], key: str = "Tags") -> list[dict[str, str]]:
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in props.get(key) or []]


def tag_dict(props: Mapping[str, Any], key: str = "Tags") -> dict[str, str]:
    tags = props.get(key) or []
    if isinstance(tags, dict):  # SSM and a few others take a map in CloudFormation
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t["Value"]) for t in tags}


def pick(props: Mapping[str, Any], *keys: str, rename: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The present keys, optionally renamed: most CloudFormation properties are API parameters verbatim."""
    rename = rename or {}
    return {rename.get(k, k): props[k] for k in keys if props.get(k) is not None}


def with_ints(params: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Numbers a hand-written template may quote ("10"): botocore rejects a str where an int goes."""
    return {k: int(v) if k in keys and isinstance(v, str) else v for k, v in params.items()}


def camel(value: Any) -> Any:
    """CloudFormation PascalCase shapes as the camelCase ones of the REST-JSON APIs (IoT, API Gateway)."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:]): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
