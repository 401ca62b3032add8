"""The payment handlers against moto: the SQS consumer (charge, answer the task token) and the refund."""

from __future__ import annotations

import hashlib
import json
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.handlers.conftest import load_handler
from tests.handlers.logs import correlation_ids, log_lines
from tests.handlers.orders_conftest_helpers import (
    ORDER_ID,
    OTHER_ORDER_ID,
    context,
    create_table,
    scan,
    sqs_event,
    sqs_record,
)

TABLE = "payments"
TOKENS = "payment-tokens"
BUS = "orders-bus"
REF = "pay_" + "b" * 32
CHARGE_ID = "ch_" + hashlib.sha256(ORDER_ID.encode()).hexdigest()[:16]


class FakeStepFunctions:
    """The Step Functions task-token API, recording each call; tokens in `gone` answer like AWS does
    for a task nobody waits on any more."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.gone: dict[str, str] = {}

    def _call(self, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((name, kwargs))
        code = self.gone.get(kwargs["taskToken"])
        if code:
            raise ClientError({"Error": {"Code": code, "Message": "Task Timed Out"}}, name)
        return {}

    def send_task_heartbeat(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("heartbeat", kwargs)

    def send_task_success(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("success", kwargs)

    def send_task_failure(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("failure", kwargs)

    def answers(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, kwargs) for name, kwargs in self.calls if name != "heartbeat"]


@pytest.fixture
def sfn() -> FakeStepFunctions:
    return FakeStepFunctions()


class Bus:
    """The order bus, with a queue that receives every payment event published on it."""

    def __init__(self) -> None:
        events, sqs = boto3.client("events"), boto3.client("sqs")
        events.create_event_bus(Name=BUS)
        self.url = sqs.create_queue(QueueName="payment-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["myapp.payments"]}))
        events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])

    def published(self) -> list[tuple[str, dict[str, Any]]]:
        sqs = boto3.client("sqs")
        found: list[tuple[str, dict[str, Any]]] = []
        while batch := sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                event = json.loads(message["Body"])
                found.append((event["detail-type"], event["detail"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return found


@pytest.fixture
def settings(aws: None, monkeypatch: pytest.MonkeyPatch) -> Bus:
    # Given the payments and PaymentTokens tables, the bus, and the functions' settings
    create_table(TABLE, "orderId")
    create_table(TOKENS, "paymentRef")
    for name, value in {
        "PAYMENTS_TABLE_NAME": TABLE,
        "PAYMENT_TOKENS_TABLE_NAME": TOKENS,
        "EVENT_BUS_NAME": BUS,
        "PAYMENT_LIMIT_CENTS": "100000",
        "PAYMENT_MAX_RECEIVES": "10",
    }.items():
        monkeypatch.setenv(name, value)
    return Bus()


@pytest.fixture
def bus(settings: Bus) -> Bus:
    return settings


@pytest.fixture
def handler(settings: Bus, sfn: FakeStepFunctions) -> ModuleType:
    store_token("tok_visa")
    module = load_handler("payment.handler")
    # The task-token API is the adapter's client: a recording fake stands in for Step Functions.
    module.tasks()._client = sfn
    return module


@pytest.fixture
def refund(settings: Bus) -> ModuleType:
    return load_handler("payment.refund")


def store_token(token: str, order_id: str = ORDER_ID, ref: str = REF) -> None:
    """What intake writes with the order: the token under its paymentRef."""
    boto3.client("dynamodb").put_item(
        TableName=TOKENS,
        Item={
            "paymentRef": {"S": ref},
            "orderId": {"S": order_id},
            "token": {"S": token},
            "expiresAt": {"N": "1"},
        },
    )


def tokens() -> list[str]:
    return [item["paymentRef"] for item in scan(TOKENS)]


def request(**changes: Any) -> dict[str, Any]:
    return {
        "taskToken": "token-1",
        "orderId": ORDER_ID,
        "amountCents": 3399,
        "currency": "EUR",
        "paymentRef": REF,
        "attempt": 0,
        **changes,
    }


def received(record: dict[str, Any], count: int) -> dict[str, Any]:
    return {**record, "attributes": {**record["attributes"], "ApproximateReceiveCount": str(count)}}


def deliver(handler: ModuleType, *records: dict[str, Any]) -> dict[str, Any]:
    return dict(handler.lambda_handler(sqs_event(*records), context("payment")))


def test_a_payment_is_charged_recorded_announced_and_the_task_succeeds(
    handler: ModuleType, sfn: FakeStepFunctions, bus: Bus
) -> None:
    # When the workflow's payment request arrives
    result = deliver(handler, sqs_record(request(), "m-1"))
    # Then the batch succeeds, the charge is recorded, and the task token gets the charge
    assert result == {"batchItemFailures": []}
    [item] = scan(TABLE)
    assert (item["orderId"], item["status"], item["chargeId"], int(item["amountCents"])) == (
        ORDER_ID,
        "CHARGED",
        CHARGE_ID,
        3399,
    )
    [(name, call)] = sfn.answers()
    assert (name, call["taskToken"]) == ("success", "token-1")
    assert json.loads(call["output"]) == {"chargeId": CHARGE_ID, "amountCents": 3399}
    # And PaymentCharged is on the bus, the token is deleted, and neither the event nor the record holds it
    [(detail_type, detail)] = bus.published()
    assert (detail_type, detail["chargeId"], detail["amountCents"]) == ("PaymentCharged", CHARGE_ID, 3399)
    assert tokens() == []
    assert "tok_visa" not in json.dumps(detail) + json.dumps(item, default=str)


@pytest.mark.parametrize(
    ("token", "changes"),
    [("tok_declined", {}), ("tok_visa", {"amountCents": 100_001})],
    ids=["token", "limit"],
)
def test_a_declined_payment_fails_the_task_with_payment_declined(
    handler: ModuleType, sfn: FakeStepFunctions, token: str, changes: dict[str, Any]
) -> None:
    store_token(token)
    result = deliver(handler, sqs_record(request(**changes), "m-1"))
    # The message is done (the workflow decides what a decline means), nothing is recorded
    assert result == {"batchItemFailures": []}
    [(name, call)] = sfn.answers()
    assert (name, call["taskToken"], call["error"]) == ("failure", "token-1", "PaymentDeclined")
    assert call["cause"]
    assert scan(TABLE) == []


def test_a_transient_failure_fails_the_task_and_the_workflows_retry_charges(
    handler: ModuleType, sfn: FakeStepFunctions
) -> None:
    # Given a provider that fails transiently on attempt 0
    store_token("tok_transient")
    first = deliver(handler, sqs_record(request(attempt=0), "m-1"))
    # When the workflow retries the task: a new message, a new token, attempt 1
    second = deliver(handler, sqs_record(request(attempt=1, taskToken="token-2"), "m-2"))
    # Then the first task failed with PaymentTransientError, the second succeeded with the charge
    assert first == second == {"batchItemFailures": []}
    [(failure, failed), (success, succeeded)] = sfn.answers()
    assert (failure, failed["taskToken"], failed["error"]) == ("failure", "token-1", "PaymentTransientError")
    assert (success, succeeded["taskToken"]) == ("success", "token-2")
    assert [item["status"] for item in scan(TABLE)] == ["CHARGED"]


def test_a_poison_message_fails_alone_in_its_batch(handler: ModuleType, sfn: FakeStepFunctions) -> None:
    # Given a batch with a good request, a body that is not JSON, one without a task token, and one
    # with a task token but an invalid field
    no_token = {k: v for k, v in request(orderId=OTHER_ORDER_ID).items() if k != "taskToken"}
    invalid = request(orderId=OTHER_ORDER_ID, taskToken="token-9", currency="XXX")
    result = deliver(
        handler,
        sqs_record(request(), "good"),
        sqs_record("{not json", "not-json"),
        sqs_record(no_token, "no-token"),
        sqs_record(invalid, "invalid"),
    )
    # Then the messages naming no order are reported failed (SQS redelivers, then parks them)
    assert result == {"batchItemFailures": [{"itemIdentifier": "not-json"}, {"itemIdentifier": "no-token"}]}
    # And the invalid one fails its order at once; the good one was charged and answered
    assert [(name, call["taskToken"], call.get("error")) for name, call in sfn.answers()] == [
        ("success", "token-1", None),
        ("failure", "token-9", "InvalidPaymentRequest"),
    ]
    assert [item["orderId"] for item in scan(TABLE)] == [ORDER_ID]


def test_a_message_that_keeps_failing_fails_its_order_on_the_last_receive(
    handler: ModuleType, sfn: FakeStepFunctions
) -> None:
    # Given a step that fails every time (the bus is unreachable)
    def broken(*details: Any) -> None:
        raise RuntimeError("bus unreachable")

    handler.ports().events.publish = broken
    # When the message is received for the 9th time, then for the 10th (maxReceiveCount)
    ninth = deliver(handler, received(sqs_record(request(), "m-1"), 9))
    tenth = deliver(handler, received(sqs_record(request(), "m-1"), 10))
    # Then both report it failed (SQS parks it after the 10th), and the 10th fails the order's task first
    assert ninth == tenth == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert [(name, call.get("error")) for name, call in sfn.answers()] == [
        ("failure", "PaymentPoisonMessage")
    ]


def test_a_second_delivery_of_a_charged_order_does_not_charge_again(
    handler: ModuleType, sfn: FakeStepFunctions
) -> None:
    # Given an order charged once
    deliver(handler, sqs_record(request(), "m-1"))
    charges: list[str] = []
    provider = handler.ports().provider
    original = provider.charge

    def counting(*args: Any) -> Any:
        charges.append(args[0])
        return original(*args)

    provider.charge = counting
    # When SQS delivers the same request again
    result = deliver(handler, sqs_record(request(), "m-1"))
    # Then the provider is not called, and the task gets the recorded charge again
    assert result == {"batchItemFailures": []}
    assert charges == []
    assert [json.loads(call["output"])["chargeId"] for _, call in sfn.answers()] == [CHARGE_ID, CHARGE_ID]
    assert len(scan(TABLE)) == 1


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken"])
def test_a_request_whose_task_is_gone_is_done_without_a_charge(
    handler: ModuleType, sfn: FakeStepFunctions, code: str
) -> None:
    # Given a message that waited in the queue past the task's timeout
    sfn.gone["token-1"] = code
    # When it is processed
    result = deliver(handler, sqs_record(request(), "m-1"))
    # Then the message is done, nothing is charged, and nothing else is sent
    assert result == {"batchItemFailures": []}
    assert scan(TABLE) == []
    assert [name for name, _ in sfn.calls] == ["heartbeat"]


def test_an_answer_the_workflow_no_longer_waits_for_is_logged_and_done(
    handler: ModuleType, sfn: FakeStepFunctions
) -> None:
    # Given a task that times out between the heartbeat and the answer
    def times_out(**kwargs: Any) -> dict[str, Any]:
        sfn.calls.append(("success", kwargs))
        raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}, "SendTaskSuccess")

    sfn.send_task_success = times_out  # type: ignore[method-assign]
    # When the payment is processed
    result = deliver(handler, sqs_record(request(), "m-1"))
    # Then the record is done (not redelivered), and the charge stays recorded for the refund to find
    assert result == {"batchItemFailures": []}
    assert [item["status"] for item in scan(TABLE)] == ["CHARGED"]


def test_another_step_functions_error_fails_the_record_for_a_retry(
    handler: ModuleType, sfn: FakeStepFunctions
) -> None:
    def throttled(**kwargs: Any) -> dict[str, Any]:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "SendTaskSuccess"
        )

    sfn.send_task_success = throttled  # type: ignore[method-assign]
    result = deliver(handler, sqs_record(request(), "m-1"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    # The retry finds the recorded charge and does not charge again.
    assert [item["status"] for item in scan(TABLE)] == ["CHARGED"]


# -- refund ----------------------------------------------------------------------------------------


def test_a_charged_order_is_refunded_once(handler: ModuleType, refund: ModuleType, bus: Bus) -> None:
    # Given a charged order
    deliver(handler, sqs_record(request(), "m-1"))
    # When the workflow's compensation refunds it, and the invocation is retried
    first = refund.lambda_handler({"orderId": ORDER_ID}, context("payment-refund"))
    second = refund.lambda_handler({"orderId": ORDER_ID}, context("payment-refund", "req-2"))
    # Then the money goes back once, the record says REFUNDED, and the retry reports the same refund
    assert first == second == {"refunded": True, "refundedCents": 3399}
    [item] = scan(TABLE)
    assert item["status"] == "REFUNDED"
    assert item["refundId"].startswith("re_")
    # And the refund is announced on each invocation, after the charge
    assert [t for t, _ in bus.published()] == ["PaymentCharged", "PaymentRefunded", "PaymentRefunded"]


def test_an_order_never_charged_gets_a_tombstone_and_a_later_message_is_not_charged(
    handler: ModuleType, refund: ModuleType, sfn: FakeStepFunctions
) -> None:
    # Given the workflow compensated before its payment message was processed
    assert refund.lambda_handler({"orderId": ORDER_ID}, context("payment-refund")) == {
        "refunded": False,
        "refundedCents": 0,
    }
    assert [(i["orderId"], i["status"]) for i in scan(TABLE)] == [(ORDER_ID, "VOIDED")]
    # When the message is processed afterwards
    result = deliver(handler, sqs_record(request(), "m-1"))
    # Then nothing is charged and the task is failed
    assert result == {"batchItemFailures": []}
    assert [(n, c.get("error")) for n, c in sfn.answers()] == [("failure", "PaymentAlreadyRefunded")]
    assert [i["status"] for i in scan(TABLE)] == ["VOIDED"]


def test_a_malformed_refund_request_is_refused(refund: ModuleType) -> None:
    with pytest.raises(refund.InvalidRefundRequest, match="orderId"):
        refund.lambda_handler({"order": ORDER_ID}, context("payment-refund"))


def test_each_payment_records_lines_carry_its_order_id_a_poison_one_its_message_id(
    handler: ModuleType, sfn: FakeStepFunctions
) -> None:
    # When a batch holds a payment request and a message that is not one
    with log_lines(handler.logger) as lines:
        deliver(handler, sqs_record(request(), "m-1"), sqs_record({"no": "order"}, "m-2"))
        handler.logger.info("after the batch")
    # Then the request's line names its order, the poison one its message, and nothing sticks after
    assert correlation_ids(lines) == [ORDER_ID, "m-2", None]


def test_the_refunds_log_lines_carry_the_order_id(refund: ModuleType) -> None:
    with log_lines(refund.logger) as lines:
        refund.lambda_handler({"orderId": ORDER_ID}, context("payment-refund"))
    assert lines and set(correlation_ids(lines)) == {ORDER_ID}
