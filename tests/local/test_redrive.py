"""`make redrive` end to end: events parked by faults in each kind of DLQ go back and their flows complete.

The redrive tool runs as a user runs it (`python -m tools.redrive ...` with AWS_ENDPOINT_URL set),
against the session's localcloud; the fault switch parks the events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.local.conftest import ROOT, Local
from tests.local.test_order_failures import wait_for
from tests.local.test_order_flow import FINAL, Shop, sku

pytestmark = pytest.mark.local


@pytest.fixture(scope="module")
def shop(local: Local) -> Shop:
    return Shop(local)


@pytest.fixture
def fault(local: Local) -> Iterator[Any]:
    """Sets up faults; whatever a test set up is cleared when it ends."""
    ids: list[int] = []

    def set_up(spec: dict[str, Any]) -> int:
        [added] = local.call("POST", "/_localcloud/faults", {"faults": [spec]})["faults"]
        ids.append(int(added["id"]))
        return int(added["id"])

    yield set_up
    for fault_id in ids:
        local.call("DELETE", f"/_localcloud/faults?id={fault_id}")


def redrive(local: Local, *args: str) -> subprocess.CompletedProcess[str]:
    """The tool as a user runs it against localcloud."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": local.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("AWS_PROFILE", None)
    return subprocess.run(
        [sys.executable, "-m", "tools.redrive", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def depth(local: Local, url: str) -> int:
    attributes = local.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def queue_url(local: Local, part: str) -> str:
    [url] = [
        u for u in local.client("sqs").list_queues(QueueNamePrefix="EventDriven-")["QueueUrls"] if part in u
    ]
    return str(url)


def rule_name(local: Local, part: str) -> str:
    rules = local.client("events").list_rules(EventBusName=local.output("EventBusName"))["Rules"]
    [name] = [r["Name"] for r in rules if part in r["Name"]]
    return str(name)


def completed(shop: Shop, order_id: str, seconds: float = 240) -> dict[str, Any]:
    order: dict[str, Any] = wait_for(lambda: (o := shop.order(order_id))["status"] in FINAL and o, seconds)
    return order


def test_list_shows_every_dlq_of_the_app_by_kind(local: Local) -> None:
    # When an operator lists the DLQs
    result = redrive(local, "list")
    # Then every kind is there, found without a name given, and nothing was lost by looking
    assert result.returncode == 0, result.stderr
    for kind in (
        "[queue] queue DLQ of",
        "[rule] rule DLQ of",
        "[onfailure] OnFailure of",
        "[stream] stream OnFailure",
    ):
        assert kind in result.stdout, result.stdout
    assert "OrdersPaymentDlq" in result.stdout and "OrderPlacedRoute" in result.stdout
    # And a DLQ that does not exist is a clear error naming the ones that do
    unknown = redrive(local, "redrive", "--queue", "no-such-dlq")
    assert unknown.returncode == 2 and "no DLQ of EventDriven matches" in unknown.stderr
    assert "OrdersPaymentDlq" in unknown.stderr


def test_a_parked_payment_goes_back_to_its_queue_and_the_order_completes(shop: Shop, fault: Any) -> None:
    # Given a payment function failing every receive, so an order's payment is parked in the payment DLQ
    local = shop.local
    dlq = local.output("PaymentDlqUrl")
    fault_id = fault(
        {"function": local.output("PaymentFunctionName"), "effect": "error", "errorType": "Poison"}
    )
    item = sku()
    shop.stock(item, 3)
    order_id = shop.place(item).body["orderId"]
    wait_for(lambda: depth(local, dlq) == 1, 120)
    local.call("DELETE", f"/_localcloud/faults?id={fault_id}")  # the payment service is mended

    # When the operator lists, tries a filter that matches nothing, and a dry run
    listed = redrive(local, "list", "--queue", "PaymentDlq")
    filtered = redrive(local, "redrive", "--queue", "PaymentDlq", "--error", "no-such-error")
    dry = redrive(local, "redrive", "--queue", "PaymentDlq", "--dry-run")
    # Then each says what it saw and the message is still parked
    assert "depth 1" in listed.stdout and "maxReceiveCount reached" in listed.stdout, listed.stdout
    assert "moved 0, skipped 1 by filter" in filtered.stdout and filtered.returncode == 0, filtered.stdout
    assert "would move 1" in dry.stdout and dry.returncode == 0, dry.stdout
    assert depth(local, dlq) == 1

    # When the operator redrives the payment DLQ (SQS StartMessageMoveTask, at a rate)
    result = redrive(local, "redrive", "--queue", "PaymentDlq", "--rate", "5")
    # Then the message went back to the payment queue, the DLQ is empty and the order completes
    assert result.returncode == 0, result.stdout + result.stderr
    assert "moved 1" in result.stdout and "StartMessageMoveTask" in result.stdout, result.stdout
    assert depth(local, dlq) == 0
    assert completed(shop, order_id)["status"] == "COMPLETED"


def test_an_order_placed_parked_by_its_rule_goes_back_on_the_bus_and_the_order_completes(
    shop: Shop, fault: Any
) -> None:
    # Given the rule starting the order workflow failing to deliver, so OrderPlaced parks in its DLQ
    local = shop.local
    dlq = queue_url(local, "OrderPlacedRouteDlq")
    fault_id = fault(
        {
            "rule": rule_name(local, "OrderPlacedRoute"),
            "target": "Target0",
            "effect": "fail",
            "errorCode": "ThrottlingException",
            "errorMessage": "Rate exceeded",
        }
    )
    item = sku()
    shop.stock(item, 3)
    order_id = shop.place(item).body["orderId"]
    wait_for(lambda: depth(local, dlq) == 1, 120)
    local.call("DELETE", f"/_localcloud/faults?id={fault_id}")

    # When the operator lists it and does a dry run
    listed = redrive(local, "list", "--queue", "OrderPlacedRoute")
    dry = redrive(local, "redrive", "--queue", "OrderPlacedRoute", "--dry-run")
    # Then the error EventBridge recorded is shown, nothing moved and the order waits
    assert "1 x ThrottlingException: Rate exceeded" in listed.stdout, listed.stdout
    assert "would move 1" in dry.stdout and depth(local, dlq) == 1
    assert shop.order(order_id)["status"] not in FINAL

    # When the operator redrives rule DLQs whose error is a throttle
    result = redrive(local, "redrive", "--queue", "rule", "--error", "Throttling")
    # Then OrderPlaced went back on the bus as the redrive role (the bus lets it put myapp.orders),
    # the DLQ is empty and the order completes
    assert result.returncode == 0, result.stdout + result.stderr
    assert "as arn:aws:iam::123456789012:role/EventDriven/redrive/" in result.stdout, result.stdout
    assert depth(local, dlq) == 0
    assert completed(shop, order_id)["status"] == "COMPLETED"


def test_a_failed_accounting_invocation_is_invoked_again_and_the_ledger_entry_appears(
    shop: Shop, fault: Any
) -> None:
    # Given the accounting function failing, so an order's PaymentCharged ends in its OnFailure queue
    local = shop.local
    dlq = local.output("AccountingFailureDlqUrl")
    fault_id = fault(
        {"function": local.output("AccountingFunctionName"), "effect": "error", "errorType": "LedgerDown"}
    )
    item = sku()
    shop.stock(item, 3)
    order_id = shop.place(item).body["orderId"]
    assert completed(shop, order_id)["status"] == "COMPLETED"  # accounting is no step of the workflow
    wait_for(lambda: depth(local, dlq) >= 1, 120)
    local.call("DELETE", f"/_localcloud/faults?id={fault_id}")
    assert shop.ledger(f"CHARGE#{order_id}") is None

    # When the operator redrives with a filter that matches another error
    skipped = redrive(local, "redrive", "--queue", "onfailure", "--error", "SomethingElse")
    # Then nothing moved
    assert "skipped" in skipped.stdout and depth(local, dlq) >= 1, skipped.stdout

    # When the operator redrives the OnFailure records of this error
    result = redrive(local, "redrive", "--queue", "Accounting", "--error", "LedgerDown")
    # Then the function ran again with the original event: the ledger entry is there and the DLQ is empty
    assert result.returncode == 0, result.stdout + result.stderr
    local.settle()
    assert depth(local, dlq) == 0
    assert wait_for(lambda: shop.ledger(f"CHARGE#{order_id}"), 60)


def test_a_redrive_that_fails_says_why_and_keeps_the_message(shop: Shop) -> None:
    # Given a rule DLQ entry whose RULE_ARN names no rule ARN (a hand-made, bad message)
    local = shop.local
    dlq = queue_url(local, "NotifyRouteDlq")
    body = '{"source": "myapp.orders", "detail-type": "OrderCompleted", "detail": {}}'
    attribute = {"RULE_ARN": {"DataType": "String", "StringValue": "not-an-arn"}}
    local.client("sqs").send_message(QueueUrl=dlq, MessageBody=body, MessageAttributes=attribute)
    time.sleep(0.1)

    # When the operator redrives that DLQ
    result = redrive(local, "redrive", "--queue", "NotifyRouteDlq")
    # Then it says it could not, and the message stays parked
    assert "left 1 (not redrivable)" in result.stdout and "RULE_ARN is not a rule ARN" in result.stdout, (
        result.stdout
    )
    assert depth(local, dlq) == 1
    local.client("sqs").purge_queue(QueueUrl=dlq)


def test_the_redrive_role_may_put_the_apps_sources_back_and_an_ordinary_principal_still_may_not(
    shop: Shop,
) -> None:
    # Given an ordinary IAM user of the account, and the redrive role assumed by an operator
    local = shop.local
    iam, sts = local.client("iam"), local.client("sts")
    user = shop.iam_user()
    [role] = iam.list_roles(PathPrefix="/EventDriven/redrive/")["Roles"]
    session = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="operator")["Credentials"]

    def events(access_key: str, secret: str, token: str | None = None) -> Any:
        return boto3.client(
            "events",
            endpoint_url=local.endpoint,
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            aws_session_token=token,
        )

    # (the sample status change: every consumer accepts it, and it changes no order of the session)
    [entry] = json.loads((ROOT / "events" / "order_status_changed.json").read_text())
    entry["EventBusName"] = local.output("EventBusName")
    # When each puts an event of the orders service's source on the bus
    # Then the user is refused by the bus policy, and the redrive role is let through
    # (the tutorial's source stays open to the user: tests/local/test_signup_flow.py)
    with pytest.raises(ClientError) as refused:
        events(user.access_key, user.secret_key).put_events(Entries=[entry])
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "explicit deny in a resource-based policy" in str(refused.value)
    redrive_events = events(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
    assert redrive_events.put_events(Entries=[entry])["FailedEntryCount"] == 0
