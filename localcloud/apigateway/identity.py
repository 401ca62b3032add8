"""Who calls: the method's authorization (SigV4 presence, Cognito and custom authorizers) and its API key."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request

from localcloud.apigateway.errors import (
    INVALID_API_KEY,
    INVALID_SIGNATURE,
    MISSING_AUTHENTICATION_TOKEN,
    UNAUTHORIZED,
    GatewayError,
)
from localcloud.apigateway.requests import Invocation, request_value, truthy
from localcloud.core.backends import BACKENDS


def authorize(api: Any, call: Invocation, account_id: str) -> None:
    """Checks what the method's authorization type asks of the caller; fills the event's identity."""
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
        # IAM is not enforced: the signature is not checked. The caller is the IAM user owning the
        # access key in moto's IAM, else the local account's root.
        access_key = credential.split("/", 1)[0] or None
        owner = _key_owner(access_key) if access_key else None
        if owner is not None:
            call.identity.update(
                accessKey=access_key,
                accountId=owner.account_id,
                caller=owner.id,
                user=owner.id,
                userArn=owner.arn,
            )
        else:
            call.identity.update(
                accessKey=access_key,
                accountId=account_id,
                caller=access_key,
                user=access_key,
                userArn=f"arn:aws:iam::{account_id}:root",
            )
    elif kind in ("COGNITO_USER_POOLS", "CUSTOM"):
        authorizer = api.authorizers.get(call.method.authorizer_id or "")
        sources = _identity_sources(authorizer)
        values = [request_value(call, source) for source in sources]
        if not values or any(not value for value in values):
            raise GatewayError(
                UNAUTHORIZED,
                "Unauthorized",
                reason=f"{kind} authorizer: missing identity source {', '.join(sources) or '(none)'}",
            )
        if kind == "COGNITO_USER_POOLS":
            # Not verified locally: the token's claims are read as they are.
            call.authorizer = {"claims": _jwt_claims(values[0] or "")}


def check_api_key(call: Invocation, keys: Iterable[Any]) -> None:
    """A method that requires an API key takes only an enabled one of `keys` (moto's API keys)."""
    if not call.method.api_key_required:
        return
    value = call.request.headers.get("x-api-key")
    key = next((k for k in keys if value and k.value == value and truthy(k.enabled)), None)
    if key is None:
        raise GatewayError(INVALID_API_KEY, "Forbidden", reason="missing or unknown x-api-key")
    call.identity.update(apiKey=key.value, apiKeyId=key.id)


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


def _key_owner(access_key: str) -> Any:
    """The IAM user whose access key this is, in any account moto's IAM holds; None if no user's."""
    from moto.iam.models import iam_backends

    with BACKENDS:
        # dict.values: only the accounts and partitions that exist (indexing would create them).
        for partitions in list(dict.values(iam_backends)):
            for backend in list(dict.values(partitions)):
                key = backend.access_keys.get(access_key)
                if key is not None and key.user_name and key.user_name in backend.users:
                    return backend.users[key.user_name]
    return None


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
