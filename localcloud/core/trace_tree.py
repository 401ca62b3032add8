"""One flow's trace as a tree (event → rules → targets → invocations → states → outcome), built on request.

The trace is a flat list of records; recording stays an append. Asked for one correlation id (an order
id, a trial id, an event id), this finds the records that mention it (events whose detail names it, the
API request that answered with it, stream batches carrying its row, executions whose input names it) and
hangs under each what the records' ids link to it: an event's rule matches and deliveries, the
invocation or execution a delivery started, an execution's states (from its history), the SQS batch a
state's message reached, the event a state put, the DLQ an event or invocation ended in.

Each node is `{kind, name, start, durationMs, outcome, children}`; `start` is epoch seconds.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

Node = dict[str, Any]
# An execution's history events (GetExecutionHistory's `events`), or None when there is none.
History = Callable[[str], list[dict[str, Any]] | None]

# Outcomes that make the whole flow "failed".
FAILED = frozenset(
    {"failed", "dlq", "dropped", "error", "FAILED", "TIMED_OUT", "ABORTED", "partial failures"}
)


class NotTraced(LookupError):
    """No record the trace still keeps mentions the id."""


def flow_tree(records: Iterable[dict[str, Any]], correlation: str, *, history: History | None = None) -> Node:
    """The tree of the flow `correlation` names; raises NotTraced if no record mentions it."""
    if not correlation:
        raise ValueError("a correlation id is required")
    return _Builder(list(records), correlation, history or (lambda _arn: None)).build()


def mentions(value: Any, text: str) -> bool:
    """Whether `text` occurs anywhere in `value` (serialized): ids sit in values of any depth."""
    if value is None:
        return False
    if isinstance(value, str):
        return text in value
    return text in json.dumps(value, default=str)


class _Builder:
    def __init__(self, records: list[dict[str, Any]], correlation: str, history: History) -> None:
        self.id = correlation
        self.history = history
        self.used: set[int] = set()  # seq of the records already in the tree
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.matches: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.deliveries: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self.queued: dict[str, list[dict[str, Any]]] = defaultdict(list)  # function -> queued records
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)  # request id -> lambda records
        self.started: dict[str, dict[str, Any]] = {}  # execution arn -> its start record
        self.ended: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, list[dict[str, Any]]] = defaultdict(list)  # SQS message id -> esm records
        self.candidates: list[dict[str, Any]] = []  # records that mention the id themselves
        for record in records:
            self._index(record)

    # -- indexing -----------------------------------------------------------------------------
    def _index(self, record: dict[str, Any]) -> None:
        kind = record.get("kind")
        if kind == "event" and isinstance(record.get("event"), dict):
            event = record["event"]
            self.events[event.get("id", "")].append(record)
            if event.get("id") == self.id or mentions(event.get("detail"), self.id):
                self.candidates.append(record)
        elif kind == "match":
            self.matches[record.get("event_id", "")].append(record)
        elif kind in ("deliver", "dlq") and record.get("rule"):
            self.deliveries[(record.get("event_id", ""), record["rule"])].append(record)
        elif kind == "lambda" and record.get("request_id"):
            self.requests[record["request_id"]].append(record)
            if "event" in record:  # the queued record
                self.queued[record.get("function", "")].append(record)
                if mentions(record["event"], self.id):
                    self.candidates.append(record)
        elif kind == "states" and record.get("execution_arn"):
            if record.get("status") == "RUNNING":
                self.started[record["execution_arn"]] = record
                if mentions(record.get("input"), self.id) or self.id in record["execution_arn"]:
                    self.candidates.append(record)
            else:
                self.ended[record["execution_arn"]] = record
        elif kind == "esm":
            for message_id in record.get("message_ids") or ():
                self.batches[message_id].append(record)
            if mentions(record.get("keys"), self.id):
                self.candidates.append(record)
        elif kind == "apigateway":
            if mentions(record.get("path"), self.id) or mentions(record.get("response_body"), self.id):
                self.candidates.append(record)

    # -- the tree -----------------------------------------------------------------------------
    def build(self) -> Node:
        roots = []
        for record in self.candidates:  # oldest first: a record's cause claims it before it is a root
            if record["seq"] in self.used:
                continue
            node = self._node_for(record)
            if node is not None:
                roots.append(node)
        if not roots:
            raise NotTraced(f"no trace record mentions {self.id!r} (the trace keeps the newest records only)")
        roots.sort(key=lambda node: node["start"])
        root = _node("flow", self.id, roots[0]["start"], None, None, roots)
        _span(root)
        root["outcome"] = "failed" if any(_outcomes(root) & FAILED) else "ok"
        return root

    def _node_for(self, record: dict[str, Any]) -> Node | None:
        kind = record["kind"]
        if kind == "event":
            return self._event(record)
        if kind == "lambda":
            return self._invocation(record)
        if kind == "states":
            return self._execution(record)
        if kind == "esm":
            return self._batch(record)
        if kind == "apigateway":
            self.used.add(record["seq"])
            took = float(record.get("duration_ms") or 0)
            name = f"{record.get('method')} {record.get('path')}"
            return _node("api", name, record["time"] - took / 1000, took, str(record.get("status")), [])
        return None

    def _event(self, record: dict[str, Any]) -> Node:
        self.used.add(record["seq"])
        event = record["event"]
        later = [r["seq"] for r in self.events[event["id"]] if r["seq"] > record["seq"]]
        until = min(later) if later else float("inf")  # the same event routed again (forwarded, replayed)
        rules = [
            self._rule(match, event["id"], until)
            for match in self.matches[event["id"]]
            if record["seq"] < match["seq"] < until
        ]
        name = f"{event.get('detail-type')} ({event.get('source')})"
        outcome = f"{len(rules)} rule(s)" if rules else "no rule matched"
        node = _node("event", name, record["time"], None, outcome, rules)
        node["bus"], node["id"] = record.get("bus"), event["id"]
        return node

    def _rule(self, match: dict[str, Any], event_id: str, until: float) -> Node:
        self.used.add(match["seq"])
        by_target: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for delivery in self.deliveries[(event_id, match["rule"])]:
            if match["seq"] < delivery["seq"] < until:
                by_target[delivery.get("target", "")].append(delivery)
        targets = [self._target(attempts, match["time"]) for attempts in by_target.values()]
        return _node("rule", match["rule"], match["time"], None, "matched", targets)

    def _target(self, attempts: list[dict[str, Any]], matched_at: float) -> Node:
        last = attempts[-1]
        arn = str(last.get("target_arn") or "")
        children: list[Node] = []
        for attempt in attempts:
            self.used.add(attempt["seq"])
            if attempt.get("outcome") == "delivered":
                children += self._delivered(attempt, arn)
            if attempt["kind"] == "dlq":
                children.append(_node("dlq", _short(attempt.get("dlq", "")), attempt["time"], 0, "dlq", []))
        name = _short(arn) if arn else str(last.get("target"))
        node = _node(
            "target", name, matched_at, (last["time"] - matched_at) * 1000, last.get("outcome"), children
        )
        if len(attempts) > 1:
            node["attempts"] = len(attempts)
        return node

    def _delivered(self, delivery: dict[str, Any], arn: str) -> list[Node]:
        """What a delivery started: the invocation, the execution, or the event on another bus."""
        payload = _json(delivery.get("payload"))
        service, name = _service_and_name(arn)
        if service == "lambda":
            found = [r for r in self.queued[name] if r["seq"] not in self.used and r.get("event") == payload]
            return [self._invocation(found[0])] if found else []
        if service == "states":
            for start in self.started.values():
                if (
                    start["seq"] not in self.used
                    and start.get("state_machine") == name
                    and start.get("input") == payload
                ):
                    return [self._execution(start)]
            return []
        if service == "events":
            event_id = delivery.get("event_id", "")
            for record in self.events[event_id]:
                if (
                    record["seq"] > delivery["seq"]
                    and record.get("bus") == name
                    and record["seq"] not in self.used
                ):
                    return [self._event(record)]
        return []

    def _invocation(self, queued: dict[str, Any]) -> Node:
        records = self.requests[queued["request_id"]]
        for record in records:
            self.used.add(record["seq"])
        ends = [r for r in records if r.get("outcome")]
        last = ends[-1] if ends else queued
        children = [
            _node(
                r.get("destination_kind", "destination"), _short(r["destination"]), r["time"], 0, "sent", []
            )
            for r in records
            if r.get("destination")
        ]
        node = _node(
            "invocation",
            str(queued.get("function")),
            queued["time"],
            (last["time"] - queued["time"]) * 1000,
            last.get("outcome", "queued"),
            children,
        )
        attempts = [int(r["attempt"]) for r in ends if r.get("attempt")]
        if attempts and max(attempts) > 1:
            node["attempts"] = max(attempts)
        return node

    def _execution(self, start: dict[str, Any]) -> Node:
        self.used.add(start["seq"])
        arn = start["execution_arn"]
        end = self.ended.get(arn)
        if end is not None:
            self.used.add(end["seq"])
        duration = (end["time"] - start["time"]) * 1000 if end else None
        states = self._states(self.history(arn) or [])
        node = _node(
            "execution",
            f"{start.get('state_machine')} {start.get('execution')}",
            start["time"],
            duration,
            end.get("status") if end else "RUNNING",
            states,
        )
        if end is not None and end.get("error"):
            node["error"] = end["error"]
        return node

    def _states(self, events: list[dict[str, Any]]) -> list[Node]:
        """State nodes from an execution's history: entered/exited pairs, with what each task reached."""
        top: list[Node] = []
        open_: list[Node] = []
        for event in events:
            kind = _text(event.get("type"))
            moment = _seconds(event.get("timestamp"))
            if kind.endswith("StateEntered"):
                details = event.get("stateEnteredEventDetails") or {}
                node = _node("state", str(details.get("name")), moment, None, None, [])
                (open_[-1]["children"] if open_ else top).append(node)
                open_.append(node)
            elif kind.endswith("StateExited"):
                name = (event.get("stateExitedEventDetails") or {}).get("name")
                for index in range(len(open_) - 1, -1, -1):
                    if open_[index]["name"] == name:
                        node = open_.pop(index)
                        node["durationMs"] = round((moment - node["start"]) * 1000, 1)
                        node["outcome"] = node["outcome"] or "ok"
                        break
            elif open_:
                self._state_event(open_[-1], kind, event, moment)
        for node in open_:  # never exited: the execution failed or is still running there
            node["outcome"] = node["outcome"] or "running"
        return top

    def _state_event(self, state: Node, kind: str, event: dict[str, Any], moment: float) -> None:
        if kind.endswith("Failed") or kind.endswith("TimedOut"):
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
            state["outcome"] = "failed"
            state["error"] = details.get("error") or kind
            return
        if kind == "TaskScheduled":
            details = event.get("taskScheduledEventDetails") or {}
            task = f"{details.get('resourceType')}:{details.get('resource')}"
            function = _json(details.get("parameters"))
            if isinstance(function, dict) and isinstance(function.get("FunctionName"), str):
                task += f" {_service_and_name(function['FunctionName'])[1]}"
            if "task" in state:  # scheduled again: the state's Retry
                state["attempts"] = state.get("attempts", 1) + 1
            state["task"] = task
            return
        if kind.endswith("Succeeded") and state.get("outcome") == "failed":
            # A retry succeeded: the state did not fail; what it got over stays visible.
            state["outcome"] = None
            state["retriedAfter"] = state.pop("error", None)
        if kind in ("TaskSubmitted", "TaskSucceeded"):
            details = event.get("taskSubmittedEventDetails") or event.get("taskSucceededEventDetails") or {}
            output = _json(details.get("output"))
            if isinstance(output, dict):
                state["children"] += self._task_output(output)

    def _task_output(self, output: dict[str, Any]) -> list[Node]:
        """What a task's output names: the SQS message it sent, the child execution, the events it put."""
        found: list[Node] = []
        message_id = output.get("MessageId")
        if isinstance(message_id, str):
            for record in self.batches.get(message_id, []):
                if record["seq"] not in self.used:
                    found.append(self._batch(record))
        execution_arn = output.get("ExecutionArn")
        if isinstance(execution_arn, str) and execution_arn in self.started:
            start = self.started[execution_arn]
            if start["seq"] not in self.used:
                found.append(self._execution(start))
        for entry in output.get("Entries") or ():
            event_id = entry.get("EventId") if isinstance(entry, dict) else None
            for record in self.events.get(event_id or "", [])[:1]:
                if record["seq"] not in self.used:
                    found.append(self._event(record))
        return found

    def _batch(self, record: dict[str, Any]) -> Node:
        self.used.add(record["seq"])
        took = float(record.get("duration_ms") or 0)
        source = _short(str(record.get("source", "")))
        name = f"{source} -> {record.get('function')}"
        node = _node("batch", name, record["time"] - took / 1000, took, record.get("outcome"), [])
        node["records"] = record.get("records")
        return node


# -- helpers ------------------------------------------------------------------------------------
def _node(
    kind: str, name: str, start: float, duration_ms: float | None, outcome: Any, children: list[Node]
) -> Node:
    return {
        "kind": kind,
        "name": name,
        "start": start,
        "durationMs": None if duration_ms is None else round(duration_ms, 1),
        "outcome": outcome,
        "children": children,
    }


def _span(node: Node) -> float:
    """Fills in a container's duration (to its last descendant's end); returns the node's end."""
    end = node["start"] + (node["durationMs"] or 0) / 1000
    for child in node["children"]:
        end = max(end, _span(child))
    if node["durationMs"] is None:
        node["durationMs"] = round((end - node["start"]) * 1000, 1)
    return end


def _outcomes(node: Node) -> set[Any]:
    found = {node.get("outcome")}
    for child in node["children"]:
        found |= _outcomes(child)
    return found


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _text(value: Any) -> str:
    """A history event's type as AWS spells it (in-process, moto hands over a str Enum)."""
    return str(getattr(value, "value", value) or "")


def _seconds(moment: Any) -> float:
    if isinstance(moment, datetime):
        return moment.timestamp()
    if isinstance(moment, int | float):
        return float(moment)
    if isinstance(moment, str):
        return datetime.fromisoformat(moment).timestamp()
    return 0.0


def _service_and_name(arn: str) -> tuple[str, str]:
    """("lambda", function name), ("states", machine name), ("events", bus name), ... of an ARN."""
    parts = arn.split(":", 6)
    if len(parts) < 6:
        return "", arn
    service, resource = parts[2], ":".join(parts[5:])
    if service == "sqs":
        return service, resource
    head = resource.split(":", 1)[0]
    if "/" in head:  # table/name/stream/..., event-bus/name
        return service, head.split("/")[1]
    if ":" in resource:  # function:name, stateMachine:name, execution:machine:name
        return service, resource.split(":")[1]
    return service, resource


def _short(arn: str) -> str:
    """`lambda:name`, `states:name`, `sqs:name`... for an ARN; anything else as it is."""
    if not arn.startswith("arn:"):
        return arn
    service, name = _service_and_name(arn)
    return f"{'bus' if service == 'events' else service}:{name}"
