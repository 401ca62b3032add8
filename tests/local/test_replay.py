"""Replaying a window of orders from the bus archive through localcloud: every consumer sees the
events again, and nothing is done twice (README: "Replay the last hour after a bug fix")."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.local.conftest import ROOT, Local, running_localcloud
from tests.local.test_order_flow import Shop, sku

pytestmark = pytest.mark.local

ORDERS = 3
# Generous: a loaded 2-core machine may be slow; nothing here depends on how slow.
REPLAY_BOUND_SECONDS = 300
RUNBOOK = "## Replay the last hour after a bug fix"


@pytest.fixture(scope="module")
def shop(local: Local) -> Shop:
    return Shop(local)


def local_now(local: Local) -> float:
    """localcloud's clock (what event times are read from), which tests may have advanced."""
    return float(local.call("GET", "/_localcloud/clock")["now"])


def scan(shop: Shop, table_output: str, order_ids: set[str]) -> list[dict[str, Any]]:
    """The rows of a table that name one of the orders, in a stable order."""
    pages = shop.dynamodb.get_paginator("scan").paginate(
        TableName=shop.local.output(table_output), ConsistentRead=True
    )
    rows = [row for page in pages for row in page["Items"] if row.get("orderId", {}).get("S") in order_ids]
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))


def workflow_runs(shop: Shop, order_ids: set[str]) -> dict[str, list[str]]:
    """Order id -> the ARNs of the order workflow's executions started for it."""
    sfn = shop.local.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=shop.local.output("OrderWorkflowArn")
    )
    runs: dict[str, list[str]] = {order_id: [] for order_id in order_ids}
    for page in pages:
        for execution in page["executions"]:
            detail = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
            order_id = detail.get("detail", {}).get("orderId")
            if order_id in runs:
                runs[order_id].append(execution["executionArn"])
    return runs


def states_entered(shop: Shop, execution_arn: str) -> list[str]:
    sfn = shop.local.client("stepfunctions")
    history = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def business_counts(shop: Shop, name: str) -> int:
    """How many EMF records of the metrics function count `name` (the app's one source of metrics)."""
    logs = shop.local.client("logs")
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=shop.local.output("MetricsLogGroupName")
    )
    return sum(
        f'"{name}"' in event["message"] and "_aws" in event["message"]
        for page in pages
        for event in page["events"]
    )


def end_state(shop: Shop, order_ids: set[str], items: list[str], customers: list[str]) -> dict[str, Any]:
    """Everything that shows the orders were done: rows, stock, money, invoices, counts."""
    s3 = shop.local.client("s3")
    bucket = shop.local.output("InvoiceBucketName")
    invoices = {}
    for order_id in sorted(order_ids):
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"invoices/{order_id}").get("Contents", [])
        invoices[order_id] = [(o["Key"], o["ETag"], o["LastModified"].isoformat()) for o in listed]
    customer_rows = {
        customer: shop.dynamodb.get_item(
            TableName=shop.local.output("CustomersTableName"),
            Key={"customerId": {"S": customer}},
            ConsistentRead=True,
        ).get("Item")
        for customer in customers
    }
    return {
        "orders": scan(shop, "OrdersTableName", order_ids),
        "customers": customer_rows,
        "stock": {item: shop.levels(item) for item in items},
        "ledger": scan(shop, "LedgerTableName", order_ids),
        "payments": scan(shop, "PaymentsTableName", order_ids),
        "invoices": invoices,
        "OrdersPlaced": business_counts(shop, "OrdersPlaced"),
        "OrdersCompleted": business_counts(shop, "OrdersCompleted"),
    }


def completed_orders(shop: Shop) -> tuple[set[str], list[str], list[str]]:
    """ORDERS orders placed and COMPLETED: their ids, items and customers."""
    items = [sku() for _ in range(ORDERS)]
    customers = [f"replay-{uuid.uuid4().hex[:6]}" for _ in range(ORDERS)]
    for item in items:
        shop.stock(item, 5)
    placed = [
        shop.place(item, quantity=2, customer=customer)
        for item, customer in zip(items, customers, strict=True)
    ]
    assert all(p.status == 202 for p in placed), placed
    order_ids = {p.body["orderId"] for p in placed}
    shop.local.settle(timeout=120)
    assert {shop.order(order_id)["status"] for order_id in order_ids} == {"COMPLETED"}
    return order_ids, items, customers


def test_replaying_a_window_of_orders_does_nothing_twice(shop: Shop) -> None:
    local = shop.local
    events = local.client("events")
    # Given a few orders, placed and COMPLETED, within a window of the bus's event times
    local.settle()
    window_start = float(int(local_now(local)))
    order_ids, items, customers = completed_orders(shop)
    window_end = float(int(local_now(local)) + 1)
    before = end_state(shop, order_ids, items, customers)
    runs_before = workflow_runs(shop, order_ids)
    assert all(len(runs) == 1 for runs in runs_before.values()), runs_before
    assert before["stock"] == {item: (3, 0, 2) for item in items}
    assert all(int(row["orderCount"]["N"]) == 1 for row in before["customers"].values() if row)
    assert len(before["ledger"]) == ORDERS and all(before["invoices"].values())
    assert before["OrdersPlaced"] >= ORDERS and before["OrdersCompleted"] >= ORDERS
    shop.notifications()  # what the subscribers heard of these orders, read before the replay
    since = local.last_seq()

    # When an operator replays that window from the archive to the bus
    archive_arn = events.describe_archive(ArchiveName=local.output("ArchiveName"))["ArchiveArn"]
    name = f"replay-orders-{uuid.uuid4().hex[:8]}"
    started = events.start_replay(
        ReplayName=name,
        EventSourceArn=archive_arn,
        EventStartTime=datetime.fromtimestamp(window_start, UTC),
        EventEndTime=datetime.fromtimestamp(window_end, UTC),
        Destination={"Arn": local.output("EventBusArn")},
    )
    assert started["State"] == "STARTING"
    deadline = time.monotonic() + REPLAY_BOUND_SECONDS
    while (replay := events.describe_replay(ReplayName=name))["State"] in {"STARTING", "RUNNING"}:
        assert time.monotonic() < deadline, f"replay {name} still {replay['State']}"
        time.sleep(0.2)
    local.settle(timeout=120)

    # Then the replay completed, and its events reached the consumers again
    assert replay["State"] == "COMPLETED", replay
    assert window_start <= replay["EventLastReplayedTime"].timestamp() < window_end
    put = [r["event"] for r in local.trace(since=since, kind="event") if isinstance(r.get("event"), dict)]
    replayed = [event for event in put if event.get("replay-name") == name]
    replayed_types = {e["detail-type"] for e in replayed if e["detail"].get("orderId") in order_ids}
    assert {"OrderPlaced", "OrderStatusChanged", "PaymentCharged", "OrderCompleted"} <= replayed_types
    # And each replayed OrderPlaced started the workflow, which found the order taken and stopped
    runs_after = workflow_runs(shop, order_ids)
    for order_id in order_ids:
        [replayed_run] = set(runs_after[order_id]) - set(runs_before[order_id])
        entered = states_entered(shop, replayed_run)
        assert entered[-1] == "AlreadyTaken", entered
    # And nothing was done twice: same rows, stock, ledger, payments, invoices and business counts
    assert end_state(shop, order_ids, items, customers) == before
    # And no subscriber was notified again, and no front end was sent an old status
    notices = [n for n in shop.notifications() if any(order_id in n for order_id in order_ids)]
    assert notices == []
    assert [r for r in local.trace(since=since, kind="iot") if any(o in r["topic"] for o in order_ids)] == []
    # And the archive kept none of the replayed events, and no consumer put a new event about them
    replayed_ids = {e["id"] for e in replayed}
    assert not [
        r for r in local.trace(since=since, kind="archive") if r["message"].split()[1] in replayed_ids
    ]
    live = [
        event
        for event in put
        if "replay-name" not in event and event.get("detail", {}).get("orderId") in order_ids
    ]
    assert live == []


def listed(events: Any) -> list[dict[str, Any]]:
    return list(events.list_replays(NamePrefix="after-fix-")["Replays"])


def runbook_commands() -> str:
    """The shell blocks of README's replay runbook, in order, as a user pastes them."""
    section = (ROOT / "README.md").read_text().split(RUNBOOK, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "the runbook's replay and FilterArns blocks"
    return "\n".join(blocks)


@pytest.fixture(scope="module")
def fresh(cloud_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """A localcloud of its own: the runbook replays the whole last hour, which is only this test's."""
    with running_localcloud(cloud_assembly, tmp_path_factory.mktemp("replay"), ready_within=120) as cloud:
        yield cloud


def test_the_readme_runbook_replays_the_last_hour_as_written(fresh: Local) -> None:
    # Given orders completed on a localcloud, and what they did
    shop = Shop(fresh)
    order_ids, items, customers = completed_orders(shop)
    before = end_state(shop, order_ids, items, customers)
    shop.notifications()
    # When the runbook's commands run as written, with the aws CLI against it
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": fresh.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("AWS_PROFILE", None)
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", runbook_commands()],
        env=env,
        capture_output=True,
        text=True,
        timeout=REPLAY_BOUND_SECONDS,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    # Then both replays (the whole bus, and the order workflow's rule alone) ran to COMPLETED
    events = fresh.client("events")
    deadline = time.monotonic() + REPLAY_BOUND_SECONDS
    replays = listed(events)
    while {r["State"] for r in replays} != {"COMPLETED"}:
        assert time.monotonic() < deadline, replays
        time.sleep(0.2)
        replays = listed(events)
    assert len(replays) == 2, replays
    fresh.settle(timeout=120)
    # And the orders' events went through the workflow again, twice, and nothing was done twice
    runs = workflow_runs(shop, order_ids)
    assert all(len(arns) == 3 for arns in runs.values()), runs
    assert end_state(shop, order_ids, items, customers) == before
    assert [n for n in shop.notifications() if any(order_id in n for order_id in order_ids)] == []
