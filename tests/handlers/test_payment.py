"""The payment handlers against moto: the SQS consumer (charge, answer the task token) and the refund."""

from __future__ import annotations

import hashlib
import json
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.handlers.conftest import load_handler
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


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch, sfn: FakeStepFunctions) -> ModuleType:
    # Given the payments table and the function's settings
    create_table(TABLE, "orderId")
    monkeypatch.setenv("PAYMENTS_TABLE_NAME", TABLE)
    monkeypatch.setenv("PAYMENT_LIMIT_CENTS", "100000")
    module = load_handler("payment.handler")
    # The task-token API is the adapter's client: a recording fake stands in for Step Functions.
    module.tasks()._client = sfn
    return module


@pytest.fixture
def refund(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("PAYMENTS_TABLE_NAME", TABLE)
    return load_handler("payment.refund")


def request(**changes: Any) -> dict[str, Any]:
    return {
        "taskToken": "token-1",
        "orderId": ORDER_ID,
        "amountCents": 3399,
        "currency": "EUR",
        "paymentToken": "tok_visa",
        "attempt": 0,
        **changes,
    }


def deliver(handler: ModuleType, *records: dict[str, Any]) -> dict[str, Any]:
    return dict(handler.lambda_handler(sqs_event(*records), context("payment")))


def test_a_payment_is_charged_recorded_and_the_task_succeeds(
    handler: ModuleType, sfn: FakeStepFunctions
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


@pytest.mark.parametrize(
    "changes", [{"paymentToken": "tok_declined"}, {"amountCents": 100_001}], ids=["token", "limit"]
)
def test_a_declined_payment_fails_the_task_with_payment_declined(
    handler: ModuleType, sfn: FakeStepFunctions, changes: dict[str, Any]
) -> None:
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
    first = deliver(handler, sqs_record(request(paymentToken="tok_transient", attempt=0), "m-1"))
    # When the workflow retries the task: a new message, a new token, attempt 1
    second = deliver(
        handler, sqs_record(request(paymentToken="tok_transient", attempt=1, taskToken="token-2"), "m-2")
    )
    # Then the first task failed with PaymentTransientError, the second succeeded with the charge
    assert first == second == {"batchItemFailures": []}
    [(failure, failed), (success, succeeded)] = sfn.answers()
    assert (failure, failed["taskToken"], failed["error"]) == ("failure", "token-1", "PaymentTransientError")
    assert (success, succeeded["taskToken"]) == ("success", "token-2")
    assert [item["status"] for item in scan(TABLE)] == ["CHARGED"]


def test_a_poison_message_fails_alone_in_its_batch(handler: ModuleType, sfn: FakeStepFunctions) -> None:
    # Given a batch with a good request, a body that is not JSON, and one without a task token
    no_token = {k: v for k, v in request(orderId=OTHER_ORDER_ID).items() if k != "taskToken"}
    result = deliver(
        handler,
        sqs_record(request(), "good"),
        sqs_record("{not json", "not-json"),
        sqs_record(no_token, "no-token"),
    )
    # Then only the poison messages are reported failed (SQS redelivers them, then parks them in the DLQ)
    assert result == {"batchItemFailures": [{"itemIdentifier": "not-json"}, {"itemIdentifier": "no-token"}]}
    # And the good one was charged and answered
    assert [name for name, _ in sfn.answers()] == ["success"]
    assert [item["orderId"] for item in scan(TABLE)] == [ORDER_ID]


def test_a_second_delivery_of_a_charged_order_does_not_charge_again(
    handler: ModuleType, sfn: FakeStepFunctions
) -> None:
    # Given an order charged once
    deliver(handler, sqs_record(request(), "m-1"))
    charges: list[str] = []
    provider = handler.provider()
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


def test_a_charged_order_is_refunded_once(handler: ModuleType, refund: ModuleType) -> None:
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


def test_an_order_never_charged_has_nothing_to_refund(aws: None, refund: ModuleType) -> None:
    create_table(TABLE, "orderId")
    assert refund.lambda_handler({"orderId": ORDER_ID}, context("payment-refund")) == {
        "refunded": False,
        "refundedCents": 0,
    }
    assert scan(TABLE) == []


def test_a_malformed_refund_request_is_refused(aws: None, refund: ModuleType) -> None:
    create_table(TABLE, "orderId")
    with pytest.raises(refund.InvalidRefundRequest, match="orderId"):
        refund.lambda_handler({"order": ORDER_ID}, context("payment-refund"))
