"""Reading the flow trees `GET /_localcloud/trace?correlation=<id>` answers."""

from __future__ import annotations

from typing import Any

from tests.local.conftest import Local


def flow(local: Local, correlation: str) -> dict[str, Any]:
    """One flow's tree, as localcloud builds it."""
    return dict(local.call("GET", f"/_localcloud/trace?correlation={correlation}"))


def nodes(tree: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Every node of `kind` in a flow tree, depth first."""
    found = [tree] if tree["kind"] == kind else []
    for child in tree["children"]:
        found += nodes(child, kind)
    return found
