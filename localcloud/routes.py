"""localcloud's own routes under /_localcloud/: health, trace, settle, clock, outputs, faults, schedules."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from localcloud.core.faults import InvalidFault
from localcloud.core.http import json_response
from localcloud.core.trace_tree import NotTraced, flow_tree
from localcloud.eventbridge.schedules import ScheduleDisabled, UnknownSchedule
from localcloud.stepfunctions.history import execution_history

if TYPE_CHECKING:
    from localcloud.app import LocalCloud

# Settled means quiet this many times in a row, this far apart (work may start work).
QUIET_CHECKS = 2
QUIET_GAP_SECONDS = 0.01
SCHEDULES_PREFIX = "/_localcloud/schedules/"


def mount_routes(cloud: LocalCloud) -> None:
    app = cloud.app

    def health(_request: Any) -> Any:
        if cloud.ready:
            return json_response(
                {"status": "ready", "endpoint": cloud.settings.endpoint_url, "fast": cloud.settings.fast}
            )
        return json_response({"status": "deploying"}, 503)

    def trace(request: Any) -> Any:
        correlation = request.args.get("correlation")
        if correlation is not None:
            return flow(correlation.strip())
        try:
            since = int(request.args.get("since", "0"))
            limit = None if request.args.get("limit") is None else int(request.args["limit"])
        except ValueError:
            return json_response({"error": "since and limit must be whole numbers"}, 400)
        records, last = cloud.trace.page(since=since, kind=request.args.get("kind"), limit=limit)
        return json_response({"records": records, "last": last})

    def flow(correlation: str) -> Any:
        """`?correlation=<id>`: the tree of one flow (an order, a trial, a signup event)."""
        if not correlation:
            return json_response(
                {"error": "correlation must name an order id, a trial id or an event id"}, 400
            )
        try:
            tree = flow_tree(cloud.trace.records(), correlation, history=execution_history)
        except NotTraced as error:
            return json_response({"error": str(error)}, 404)
        return json_response(tree)

    def settle(request: Any) -> Any:
        """Waits until no work is due soon: what a test or demo waits on before checking results."""
        body = request.get_json(force=True, silent=True) or {}
        timeout = float(body.get("timeout", 30))
        within = float(body.get("within", 0.5 if cloud.settings.fast else 0.0))
        deadline = time.monotonic() + timeout
        quiet = 0
        busy = cloud.busy()
        while quiet < QUIET_CHECKS and time.monotonic() < deadline:
            idle = cloud.scheduler.wait_idle(max(deadline - time.monotonic(), 0), within=within)
            busy = cloud.busy()
            still = any(count for name, count in busy.items() if name != "pending")
            quiet = quiet + 1 if idle and not still else 0
            if quiet < QUIET_CHECKS:
                time.sleep(QUIET_GAP_SECONDS)
        settled = quiet >= QUIET_CHECKS
        return json_response({"settled": settled, **busy}, 200 if settled else 504)

    def clock(request: Any) -> Any:
        if request.method == "POST":
            body = request.get_json(force=True, silent=True) or {}
            cloud.clock.advance(float(body.get("advance", 0)))
            cloud.trace.emit("clock", f"clock advanced by {body.get('advance', 0)} s")
        return json_response({"now": cloud.clock.now(), "offset": cloud.clock.offset})

    def outputs(_request: Any) -> Any:
        return json_response(cloud.result.outputs if cloud.result else {})

    def faults(request: Any) -> Any:
        if request.method == "DELETE":
            fault_id = request.args.get("id")
            return json_response({"cleared": cloud.faults.clear(None if fault_id is None else int(fault_id))})
        if request.method == "POST":
            body = request.get_json(force=True, silent=True)
            specs = body.get("faults") if isinstance(body, dict) else body
            if not isinstance(specs, list):
                return json_response({"error": 'send {"faults": [...]} (or a list of faults)'}, 400)
            try:
                added = cloud.faults.add(specs)
            except (InvalidFault, TypeError, ValueError) as error:
                return json_response({"error": str(error)}, 400)
            return json_response({"faults": [fault.describe() for fault in added]}, 201)
        return json_response({"faults": cloud.faults.listed()})

    def schedules(_request: Any) -> Any:
        return json_response({"schedules": cloud.events.schedules.listed()})

    def fire_schedule(request: Any) -> Any:
        """POST /_localcloud/schedules/<rule name>?bus=<bus>: the scheduled rule fires now."""
        if request.method != "POST":
            return json_response({"error": "POST fires a scheduled rule"}, 405)
        name = request.path.removeprefix(SCHEDULES_PREFIX)
        try:
            event_id = cloud.events.schedules.fire(name, request.args.get("bus", "default"))
        except UnknownSchedule as error:
            return json_response({"error": str(error)}, 404)
        except ScheduleDisabled as error:
            return json_response({"error": str(error)}, 409)
        return json_response({"eventId": event_id})

    app.route("GET", "/_localcloud/schedules", schedules)
    app.prefix(SCHEDULES_PREFIX, fire_schedule)
    for method in ("GET", "POST", "DELETE"):
        app.route(method, "/_localcloud/faults", faults)
    app.route("GET", "/_localcloud/health", health)
    app.route("GET", "/_localcloud/trace", trace)
    app.route("POST", "/_localcloud/settle", settle)
    app.route("GET", "/_localcloud/clock", clock)
    app.route("POST", "/_localcloud/clock", clock)
    app.route("GET", "/_localcloud/outputs", outputs)
