"""Calls to the app's REST API through localcloud, signed with SigV4 as a real client signs them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDENTIALS = Credentials("testing", "testing")


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


def call(
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    credentials: Credentials = CREDENTIALS,
) -> Response:
    url = base_url.rstrip("/") + path
    data = None if body is None else json.dumps(body).encode()
    request = AWSRequest(
        method=method, url=url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(url, data=data, method=method, headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=60) as response:
            return Response(response.status, _json(response.read()), dict(response.headers.items()))
    except urllib.error.HTTPError as error:
        return Response(error.code, _json(error.read()), dict(error.headers.items()))


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")
