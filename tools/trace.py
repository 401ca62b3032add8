"""`make trace ID=<order, trial or event id>`: one flow's tree from localcloud, printed with its timings.

Asks `GET /_localcloud/trace?correlation=<id>` at AWS_ENDPOINT_URL (default http://127.0.0.1:4566) and
prints each node on a line: its start after the flow's first record, then kind, name, outcome, duration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TextIO

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
TIMEOUT_SECONDS = 30.0


class TraceUnavailable(Exception):
    """localcloud did not answer with a tree; the message says why."""


def fetch(endpoint: str, correlation: str, *, timeout: float = TIMEOUT_SECONDS) -> dict[str, Any]:
    """The flow's tree as localcloud builds it."""
    query = urllib.parse.urlencode({"correlation": correlation})
    url = f"{endpoint.rstrip('/')}/_localcloud/trace?{query}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            tree: dict[str, Any] = json.loads(response.read())
            return tree
    except urllib.error.HTTPError as error:
        try:
            reason = json.loads(error.read()).get("error") or error.reason
        except ValueError:
            reason = error.reason
        raise TraceUnavailable(f"{endpoint} answered {error.code}: {reason}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        raise TraceUnavailable(f"no localcloud at {endpoint} ({error}); start it with `make local`") from None


def render(tree: dict[str, Any]) -> list[str]:
    """One line per node, indented by depth: `+12 ms  event OrderPlaced (myapp.orders) 2 rule(s) 40 ms`."""
    lines: list[str] = []
    origin = float(tree["start"])

    def walk(node: dict[str, Any], depth: int) -> None:
        offset = (float(node["start"]) - origin) * 1000
        parts = [node["kind"], str(node["name"])]
        if node.get("task"):
            parts.append(f"[{node['task']}]")
        if node.get("outcome") is not None:
            parts.append(str(node["outcome"]))
        if node.get("attempts"):
            parts.append(f"after {node['attempts']} attempts")
        if node.get("error"):
            parts.append(f"({node['error']})")
        if node.get("retriedAfter"):
            parts.append(f"(retried after {node['retriedAfter']})")
        if node.get("durationMs") is not None:
            parts.append(f"{node['durationMs']:.0f} ms")
        lines.append(f"{offset:+8.0f} ms  {'  ' * depth}{' '.join(parts)}")
        for child in node.get("children") or ():
            walk(child, depth + 1)

    walk(tree, 0)
    return lines


def main(argv: list[str] | None = None, *, out: TextIO | None = None, endpoint: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make trace ID=...", description=__doc__.splitlines()[0])
    parser.add_argument("id", help="an order id, a trial id, or (signup) the event id")
    parser.add_argument(
        "--endpoint", default=endpoint or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT
    )
    parser.add_argument("--json", action="store_true", help="print the tree as JSON instead")
    args = parser.parse_args(argv)
    out = out or sys.stdout
    correlation = args.id.strip()
    if not correlation:
        print(
            "trace: give the id of an order, a trial or a signup event (make trace ID=...)", file=sys.stderr
        )
        return 2
    try:
        tree = fetch(args.endpoint, correlation)
    except TraceUnavailable as error:
        print(f"trace: {error}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(tree, out, indent=2)
        out.write("\n")
    else:
        out.write("\n".join(render(tree)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
