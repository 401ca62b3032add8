"""A bus's resource policy, enforced on PutEvents for the callers localcloud can tell apart.

IAM is not emulated, but a bus policy's explicit Deny is part of the app's contract: the custom bus
reserves the app's sources to their producers' roles (and the redrive role). A caller is known when
its access key is one moto issued: an IAM user's key, or the temporary key of an `sts assume-role`
session (its `aws:PrincipalArn` is then the role's ARN). The shared keys everything else uses here
(`testing`, the functions' keys) name nobody, so their calls are let through, as before.

Only what the app's policies use is evaluated: Deny statements on events:PutEvents with String* and
Arn* conditions (ForAnyValue/ForAllValues too) on `events:source` and `aws:PrincipalArn`. A statement
with anything else is skipped, and the trace says so.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from typing import Any

from localcloud.core.patches import PatchSet
from localcloud.core.trace import Trace

ACTION = "events:PutEvents"


class Unsupported(Exception):
    """A statement with something this evaluator does not know: skipped, never guessed at."""


def caller_arn(access_key: str | None, account: str) -> tuple[str, str] | None:
    """(principal ARN for policies, the caller's own ARN) of a key moto issued, or None."""
    if not access_key:
        return None
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    role = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
    if role is not None:
        return role.role_arn, role.arn
    user = iam_backends[account]["aws"].get_user_from_access_key_id(access_key)
    if user is not None:
        return user.arn, user.arn
    return None


def denies(policy: dict[str, Any], *, bus_arn: str, principal: str, account: str, sources: list[str]) -> bool:
    """Whether an explicit Deny of the policy applies to this PutEvents call."""
    context = {"events:source": sources, "aws:PrincipalArn": [principal]}
    for statement in _as_list(policy.get("Statement")):
        if statement.get("Effect") != "Deny":
            continue
        if {"NotAction", "NotResource", "NotPrincipal"} & statement.keys():
            raise Unsupported(f"statement {statement.get('Sid', '')}: Not* elements")
        if not _any_like(_as_list(statement.get("Action")), ACTION):
            continue
        if "Resource" in statement and not _any_like(_as_list(statement["Resource"]), bus_arn):
            continue
        if not _principal_matches(statement.get("Principal"), principal, account):
            continue
        if all(
            _condition(operator, key, values, context)
            for operator, block in (statement.get("Condition") or {}).items()
            for key, values in block.items()
        ):
            return True
    return False


def _principal_matches(principal: Any, arn: str, account: str) -> bool:
    if principal == "*":
        return True
    named = _as_list(principal.get("AWS")) if isinstance(principal, dict) else []
    return any(p in ("*", arn, account, f"arn:aws:iam::{account}:root") for p in named)


def _condition(operator: str, key: str, wanted: Any, context: dict[str, list[str]]) -> bool:
    qualifier, _, test = operator.rpartition(":")
    if key not in context:
        raise Unsupported(f"condition key {key}")
    negated = "Not" in test
    base = test.replace("Not", "")
    if base in ("StringEquals", "ArnEquals"):

        def match(value: str, pattern: str) -> bool:
            return value == pattern
    elif base in ("StringLike", "ArnLike"):

        def match(value: str, pattern: str) -> bool:
            return fnmatch.fnmatchcase(value, pattern)
    else:
        raise Unsupported(f"condition operator {operator}")
    patterns = [str(p) for p in _as_list(wanted)]
    values = context[key]

    def one(value: str) -> bool:
        hit = any(match(value, pattern) for pattern in patterns)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(value) for value in values)
    if qualifier in ("ForAnyValue", ""):
        return any(one(value) for value in values)
    raise Unsupported(f"condition qualifier {qualifier}")


def _any_like(patterns: Iterable[Any], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, str(p)) for p in patterns)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _access_key(headers: Any) -> str | None:
    header = headers.get("Authorization") or ""
    _, found, rest = header.partition("Credential=")
    return rest.split("/", 1)[0] if found else None


def bus_policy_patches(trace: Trace) -> PatchSet:
    """Checks each PutEvents call against the policies of the buses its entries name."""
    from moto.core.exceptions import JsonRESTError

    patches = PatchSet("bus policies")

    def checking(original: Any) -> Any:
        def put_events(handler: Any) -> Any:
            account = handler.current_account
            caller = caller_arn(_access_key(handler.headers), account)
            if caller is not None:
                principal, who = caller
                by_bus: dict[str, list[str]] = {}
                for entry in handler._get_param("Entries") or []:
                    name = str(entry.get("EventBusName") or "default").split("/")[-1]
                    by_bus.setdefault(name, []).append(str(entry.get("Source")))
                backend = handler.events_backend
                for name, sources in by_bus.items():
                    bus = backend.event_buses.get(name)
                    text = bus.policy if bus is not None else None
                    if not text:
                        continue
                    try:
                        denied = denies(
                            json.loads(text),
                            bus_arn=bus.arn,
                            principal=principal,
                            account=account,
                            sources=sources,
                        )
                    except Unsupported as what:
                        trace.emit("put-events", f"bus {name}: policy not enforced locally ({what})")
                        continue
                    if denied:
                        trace.emit(
                            "put-events", f"denied by the policy of bus {name}: {who} putting {sources}"
                        )
                        raise JsonRESTError(
                            "AccessDeniedException",
                            f"User: {who} is not authorized to perform: {ACTION} on resource: {bus.arn} "
                            "with an explicit deny in a resource-based policy",
                        )
            return original(handler)

        return put_events

    patches.wrap(
        "moto.events.responses:EventsHandler.put_events",
        checking,
        why="moto ignores a bus's policy; its Deny statements reserve the app's sources to their producers",
    )
    return patches
