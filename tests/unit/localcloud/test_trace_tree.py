"""The flow tree built from hand-made trace records: what is linked to what, by which ids (no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest

from localcloud.core.trace_tree import NotTraced, flow_tree

ORDER = "o-1111"
ACCOUNT = "arn:aws:{service}:us-east-1:123456789012:{resource}"
WORKFLOW = "OrderWorkflow"
FULFILL = "Fulfillment"
PARENT_ARN = ACCOUNT.format(service="states", resource=f"execution:{WORKFLOW}:x-1")
CHILD_ARN = ACCOUNT.format(service="states", resource=f"execution:{FULFILL}:x-2")
T0 = 1_800_000_000.0


def arn(service: str, resource: str) -> str:
    return ACCOUNT.format(service=service, resource=resource)


class Records:
    """A trace as `Trace.records()` returns it: seq, time, kind, message and the emit's fields."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, at_ms: float, kind: str, **fields: Any) -> None:
        seq = len(self.items) + 1
        self.items.append({"seq": seq, "time": T0 + at_ms / 1000, "kind": kind, "message": kind, **fields})

    def event(
        self, at_ms: float, event_id: str, detail_type: str, detail: dict[str, Any], bus: str = "app"
    ) -> dict:
        event = {"id": event_id, "detail-type": detail_type, "source": "myapp.orders", "detail": detail}
        self.add(at_ms, "event", bus=bus, event=event)
        return event

    def delivered(
        self, at_ms: float, rule: str, event: dict[str, Any], target_arn: str, **fields: Any
    ) -> None:
        self.add(
            at_ms,
            fields.pop("kind", "deliver"),
            rule=rule,
            target="Target0",
            target_arn=target_arn,
            event_id=event["id"],
            outcome=fields.pop("outcome", "delivered"),
            payload=json.dumps(event),
            **fields,
        )


def stamp(at_ms: float) -> datetime:
    return datetime.fromtimestamp(T0 + at_ms / 1000, UTC)


def state(at_ms: float, kind: str, name: str, event_id: int) -> dict[str, Any]:
    key = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
    return {"timestamp": stamp(at_ms), "type": kind, "id": event_id, key: {"name": name}}


def task(at_ms: float, kind: str, details: dict[str, Any], event_id: int) -> dict[str, Any]:
    key = {"TaskScheduled": "taskScheduledEventDetails", "TaskSubmitted": "taskSubmittedEventDetails"}.get(
        kind, "taskSucceededEventDetails" if kind == "TaskSucceeded" else "taskFailedEventDetails"
    )
    return {"timestamp": stamp(at_ms), "type": kind, "id": event_id, key: details}


HISTORY: dict[str, list[dict[str, Any]]] = {
    PARENT_ARN: [
        {"timestamp": stamp(20), "type": "ExecutionStarted", "id": 1},
        state(21, "TaskStateEntered", "RequestPayment", 2),
        task(22, "TaskScheduled", {"resourceType": "sqs", "resource": "sendMessage.waitForTaskToken"}, 3),
        task(25, "TaskSubmitted", {"output": json.dumps({"MessageId": "m-1"})}, 4),
        task(80, "TaskSucceeded", {"output": json.dumps({"chargeId": "ch_1"})}, 5),
        state(81, "TaskStateExited", "RequestPayment", 6),
        state(81, "TaskStateEntered", "Fulfill", 7),
        task(82, "TaskSubmitted", {"output": json.dumps({"ExecutionArn": CHILD_ARN})}, 8),
        state(120, "TaskStateExited", "Fulfill", 9),
    ],
    CHILD_ARN: [
        state(85, "TaskStateEntered", "Announce", 2),
        task(
            86,
            "TaskScheduled",
            {
                "resourceType": "lambda",
                "resource": "invoke",
                "parameters": json.dumps({"FunctionName": arn("lambda", "function:announcer")}),
            },
            3,
        ),
        task(100, "TaskSucceeded", {"output": json.dumps({"Entries": [{"EventId": "e-done"}]})}, 4),
        state(101, "TaskStateExited", "Announce", 5),
    ],
}


def order_flow() -> Records:
    """An order: API → stream → OrderPlaced → workflow (payment over SQS, a child) → OrderCompleted."""
    r = Records()
    r.add(
        5,
        "apigateway",
        method="POST",
        path="/orders",
        status=202,
        duration_ms=5.0,
        response_body=json.dumps({"orderId": ORDER}),
    )
    r.add(
        14,
        "esm",
        source=arn("dynamodb", "table/Orders/stream/2026"),
        function="outbox",
        outcome="ok",
        records=1,
        duration_ms=4.0,
        keys=[{"orderId": {"S": ORDER}}],
    )
    placed = r.event(12, "e-placed", "OrderPlaced", {"orderId": ORDER})
    r.add(12, "match", rule="workflow-rule", event_id="e-placed")
    r.add(12, "match", rule="metrics-rule", event_id="e-placed")
    r.add(13, "lambda", function="metrics", request_id="req-m", event=placed)
    r.delivered(13, "metrics-rule", placed, arn("lambda", "function:metrics"))
    r.add(
        20,
        "states",
        state_machine=WORKFLOW,
        execution="x-1",
        execution_arn=PARENT_ARN,
        status="RUNNING",
        input=placed,
    )
    r.delivered(20, "workflow-rule", placed, arn("states", f"stateMachine:{WORKFLOW}"))
    r.add(30, "lambda", function="metrics", request_id="req-m", outcome="ok", attempt=1)
    r.add(
        60,
        "esm",
        source=arn("sqs", "payments"),
        function="payment",
        outcome="ok",
        records=1,
        duration_ms=30.0,
        message_ids=["m-1"],
    )
    r.add(
        84,
        "states",
        state_machine=FULFILL,
        execution="x-2",
        execution_arn=CHILD_ARN,
        status="RUNNING",
        input={"order": {"orderId": ORDER}},
    )
    done = r.event(99, "e-done", "OrderCompleted", {"orderId": ORDER})
    r.add(99, "match", rule="notify-rule", event_id="e-done")
    r.delivered(99, "notify-rule", done, arn("sns", "notifications"))
    r.add(118, "states", execution_arn=CHILD_ARN, state_machine=FULFILL, execution="x-2", status="SUCCEEDED")
    r.add(
        121, "states", execution_arn=PARENT_ARN, state_machine=WORKFLOW, execution="x-1", status="SUCCEEDED"
    )
    # Another order's event, at the same time: not part of this flow.
    other = r.event(50, "e-other", "OrderPlaced", {"orderId": "o-2222"})
    r.add(50, "match", rule="workflow-rule", event_id="e-other")
    r.delivered(50, "workflow-rule", other, arn("states", f"stateMachine:{WORKFLOW}"))
    return r


def find(node: dict[str, Any], kind: str, name_part: str) -> dict[str, Any]:
    """The first node of `kind` whose name contains `name_part`, depth first."""
    if node["kind"] == kind and name_part in node["name"]:
        return node
    for child in node["children"]:
        try:
            return find(child, kind, name_part)
        except LookupError:
            pass
    raise LookupError(f"no {kind} {name_part!r} under {node['kind']} {node['name']}")


def names(node: dict[str, Any]) -> list[str]:
    return [f"{child['kind']} {child['name']}" for child in node["children"]]


def test_an_order_hangs_workflow_payment_child_and_completion_under_its_placed_event() -> None:
    # Given the trace of one order
    records = order_flow().items
    # When its tree is built
    tree = flow_tree(records, ORDER, history=HISTORY.get)
    # Then the roots are the API request, the stream batch and the events, in time order
    assert (tree["kind"], tree["name"], tree["outcome"]) == ("flow", ORDER, "ok")
    assert names(tree) == [
        "api POST /orders",
        "batch dynamodb:Orders -> outbox",  # started at 10 ms, published at 12 ms
        "event OrderPlaced (myapp.orders)",
    ]
    # And OrderPlaced → the workflow rule → its target → the execution and its outcome
    placed = find(tree, "event", "OrderPlaced")
    rule = find(placed, "rule", "workflow-rule")
    [target] = rule["children"]
    assert (target["name"], target["outcome"]) == (f"states:{WORKFLOW}", "delivered")
    [execution] = target["children"]
    assert (execution["name"], execution["outcome"]) == (f"{WORKFLOW} x-1", "SUCCEEDED")
    # And the payment state's SQS message reached the payment function's batch
    payment = find(execution, "state", "RequestPayment")
    assert (payment["task"], payment["durationMs"]) == ("sqs:sendMessage.waitForTaskToken", 60.0)
    assert names(payment) == ["batch sqs:payments -> payment"]
    # And the child execution's state put OrderCompleted, whose rule notified
    child = find(find(execution, "state", "Fulfill"), "execution", FULFILL)
    announce = find(child, "state", "Announce")
    assert announce["task"] == "lambda:invoke announcer"
    completed = find(announce, "event", "OrderCompleted")
    assert names(completed) == ["rule notify-rule"]
    assert find(completed, "target", "sns:notifications")["outcome"] == "delivered"
    # And the metrics consumer's invocation, queued at 13 ms and done at 30 ms
    invocation = find(find(placed, "rule", "metrics-rule"), "invocation", "metrics")
    assert (invocation["outcome"], invocation["durationMs"]) == ("ok", 17.0)


def test_the_flow_leaves_out_what_another_order_did_at_the_same_time() -> None:
    tree = flow_tree(order_flow().items, ORDER, history=HISTORY.get)
    assert "e-other" not in json.dumps(tree)
    assert json.dumps(tree).count('"kind": "execution"') == 2  # the parent and its child, once each


def test_starts_and_durations_come_from_the_records_and_containers_span_their_children() -> None:
    tree = flow_tree(order_flow().items, ORDER, history=HISTORY.get)
    api = tree["children"][0]
    assert (api["start"], api["durationMs"]) == (T0, 5.0)  # emitted at its end: started 5 ms before
    assert tree["start"] == T0
    assert tree["durationMs"] == pytest.approx(121.0)  # to the workflow's end
    placed = find(tree, "event", "OrderPlaced")
    assert placed["durationMs"] == pytest.approx(121.0 - 12.0)


def test_without_history_an_execution_is_shown_with_its_outcome_only() -> None:
    tree = flow_tree(order_flow().items, ORDER)
    execution = find(tree, "execution", WORKFLOW)
    assert (execution["outcome"], execution["children"]) == ("SUCCEEDED", [])
    # The child execution and the completion event still appear, found by the order id they carry
    assert find(tree, "execution", FULFILL)["outcome"] == "SUCCEEDED"
    assert find(tree, "event", "OrderCompleted")


def test_a_delivery_that_failed_ends_in_its_dlq_and_fails_the_flow() -> None:
    r = Records()
    event = r.event(0, "e-1", "OrderPlaced", {"orderId": ORDER})
    r.add(0, "match", rule="workflow-rule", event_id="e-1")
    target = arn("states", f"stateMachine:{WORKFLOW}")
    r.delivered(1, "workflow-rule", event, target, outcome="retry", error="ThrottlingException")
    r.delivered(900, "workflow-rule", event, target, kind="dlq", outcome="dlq", dlq=arn("sqs", "rule-dlq"))
    tree = flow_tree(r.items, ORDER)
    target_node = find(tree, "target", WORKFLOW)
    assert (target_node["outcome"], target_node["attempts"]) == ("dlq", 2)
    assert names(target_node) == ["dlq sqs:rule-dlq"]
    assert tree["outcome"] == "failed"


def test_a_failed_async_invocation_shows_its_attempts_and_on_failure_destination() -> None:
    r = Records()
    event = r.event(0, "e-1", "OrderCompleted", {"orderId": ORDER})
    r.add(0, "match", rule="accounting-rule", event_id="e-1")
    r.add(1, "lambda", function="accounting", request_id="req-1", event=event)
    r.delivered(1, "accounting-rule", event, arn("lambda", "function:accounting"))
    r.add(10, "lambda", function="accounting", request_id="req-1", outcome="retry", attempt=1)
    r.add(20, "lambda", function="accounting", request_id="req-1", outcome="failed", attempt=3)
    r.add(
        20,
        "lambda",
        function="accounting",
        request_id="req-1",
        destination=arn("sqs", "accounting-dlq"),
        destination_kind="OnFailure",
    )
    invocation = find(flow_tree(r.items, ORDER), "invocation", "accounting")
    assert (invocation["outcome"], invocation["attempts"], invocation["durationMs"]) == ("failed", 3, 19.0)
    assert names(invocation) == ["OnFailure sqs:accounting-dlq"]


def test_a_signup_is_followed_by_its_event_id_across_the_forwarding_rule() -> None:
    # Given a signup put on the default bus, forwarded to the app's bus, where it reaches the mailer
    r = Records()
    signup = {"id": "e-signup", "detail-type": "user_signup", "source": "myapp.userservice", "detail": {}}
    r.add(0, "event", bus="default", event=signup)
    r.add(0, "match", rule="forward", event_id="e-signup")
    r.delivered(1, "forward", signup, arn("events", "event-bus/app"))
    r.add(2, "event", bus="app", event=signup)
    r.add(2, "match", rule="welcome", event_id="e-signup")
    r.add(3, "lambda", function="welcome", request_id="req-w", event=signup)
    r.delivered(3, "welcome", signup, arn("lambda", "function:welcome"))
    r.add(9, "lambda", function="welcome", request_id="req-w", outcome="ok", attempt=1)
    # When its tree is asked for by the event id
    tree = flow_tree(r.items, "e-signup")
    # Then the event on the app's bus hangs under the forwarding target, not beside it
    [root] = tree["children"]
    assert (root["bus"], names(root)) == ("default", ["rule forward"])
    forwarded = find(find(root, "target", "bus:app"), "event", "user_signup")
    assert forwarded["bus"] == "app"
    assert find(forwarded, "invocation", "welcome")["outcome"] == "ok"


def test_an_input_transformed_delivery_links_to_its_invocation_by_the_payload() -> None:
    r = Records()
    r.event(0, "e-1", "TrialRequested", {"trialId": "t-1"})
    r.add(0, "match", rule="assign", event_id="e-1")
    r.add(1, "lambda", function="assign", request_id="req-a", event={"trialId": "t-1"})
    r.add(
        1,
        "deliver",
        rule="assign",
        target="T",
        target_arn=arn("lambda", "function:assign"),
        event_id="e-1",
        outcome="delivered",
        payload=json.dumps({"trialId": "t-1"}),
    )
    r.add(5, "lambda", function="assign", request_id="req-a", outcome="ok", attempt=1)
    tree = flow_tree(r.items, "t-1")
    assert names(find(tree, "target", "lambda:assign")) == ["invocation assign"]
    assert [child["kind"] for child in tree["children"]] == ["event"]  # the invocation is not a root too


def test_an_id_no_record_mentions_is_a_clear_not_traced_and_an_empty_one_is_refused() -> None:
    with pytest.raises(NotTraced, match="no trace record mentions 'o-9999'"):
        flow_tree(order_flow().items, "o-9999")
    with pytest.raises(ValueError, match="required"):
        flow_tree(order_flow().items, "")


class EventType(str, Enum):
    """How moto's backend types history events in-process (GetExecutionHistory over HTTP sends strings)."""

    TaskStateEntered = "TaskStateEntered"
    TaskScheduled = "TaskScheduled"
    TaskSubmitted = "TaskSubmitted"
    TaskSucceeded = "TaskSucceeded"
    TaskStateExited = "TaskStateExited"
    ExecutionStarted = "ExecutionStarted"


def test_history_event_types_given_as_enums_link_the_same_way() -> None:
    typed = {
        execution: [{**event, "type": EventType(event["type"])} for event in events]
        for execution, events in HISTORY.items()
    }
    tree = flow_tree(order_flow().items, ORDER, history=typed.get)
    payment = find(tree, "state", "RequestPayment")
    assert payment["task"] == "sqs:sendMessage.waitForTaskToken"
    assert names(payment) == ["batch sqs:payments -> payment"]
    assert find(find(tree, "state", "Fulfill"), "execution", FULFILL)


def test_a_task_the_workflow_retried_to_success_is_ok_with_its_attempts_and_what_it_got_over() -> None:
    # Given the payment state failed transiently once, then its Retry got the payment through
    failed_once = [
        state(21, "TaskStateEntered", "RequestPayment", 2),
        task(22, "TaskScheduled", {"resourceType": "sqs", "resource": "sendMessage.waitForTaskToken"}, 3),
        task(30, "TaskFailed", {"error": "PaymentTransientError"}, 4),
        task(40, "TaskScheduled", {"resourceType": "sqs", "resource": "sendMessage.waitForTaskToken"}, 5),
        task(41, "TaskSubmitted", {"output": json.dumps({"MessageId": "m-1"})}, 6),
        task(80, "TaskSucceeded", {"output": "{}"}, 7),
        state(81, "TaskStateExited", "RequestPayment", 8),
    ]
    tree = flow_tree(order_flow().items, ORDER, history={PARENT_ARN: failed_once}.get)
    # Then the state is ok after 2 attempts, and neither it nor the flow counts as failed
    payment = find(tree, "state", "RequestPayment")
    assert (payment["outcome"], payment["attempts"], payment["retriedAfter"]) == (
        "ok",
        2,
        "PaymentTransientError",
    )
    assert "error" not in payment and tree["outcome"] == "ok"


def test_a_task_that_failed_for_good_fails_its_state_and_the_flow() -> None:
    declined = [
        state(21, "TaskStateEntered", "RequestPayment", 2),
        task(22, "TaskScheduled", {"resourceType": "sqs", "resource": "sendMessage.waitForTaskToken"}, 3),
        task(30, "TaskFailed", {"error": "PaymentDeclined"}, 4),
    ]
    tree = flow_tree(order_flow().items, ORDER, history={PARENT_ARN: declined}.get)
    payment = find(tree, "state", "RequestPayment")
    assert (payment["outcome"], payment["error"]) == ("failed", "PaymentDeclined")
    assert tree["outcome"] == "failed"
