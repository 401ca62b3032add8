"""Bursts of orders through the app's signed REST API on localcloud: wall time, statuses, CPU per order."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.servers import TRACE_KEEP, BenchError, Cpu, Server, client, http_json, settle, tree_cpu
from tests.local.api import call

ORDERS = int(os.environ.get("BENCH_ORDERS", "200"))
ORDERS_SMALL = int(os.environ.get("BENCH_ORDERS_SMALL", "20"))
ORDER_CLIENTS = 8
IDLE_SAMPLE_S = 2.0


@dataclass
class OrderRun:
    orders: int
    wall: float  # first POST → settled
    settled: dict[str, Any]
    posts: Counter[int]  # HTTP status of each POST /orders
    statuses: Counter[str]
    cpu: Cpu
    idle_cores: float  # the tree's CPU use while nothing was asked of it, in cores
    completed_latencies: list[float] | None  # POST → OrderCompleted, None if the trace lost records

    @property
    def cpu_per_order(self) -> float:
        return self.cpu.total / self.orders


class Shop:
    """The app's order API and inventory table, as tests/local/test_order_flow.py uses them."""

    def __init__(self, endpoint: str, outputs_file: Path) -> None:
        outputs = json.loads(outputs_file.read_text())
        self.outputs = {key: value for values in outputs.values() for key, value in values.items()}
        self.endpoint = endpoint
        self.api_url = self.outputs["ApiUrl"]
        self.sku = f"BENCH-{uuid.uuid4().hex[:8].upper()}"

    def stock(self, available: int) -> None:
        client("dynamodb", self.endpoint).put_item(
            TableName=self.outputs["InventoryTableName"],
            Item={
                "sku": {"S": self.sku},
                "available": {"N": str(available)},
                "reserved": {"N": "0"},
                "sold": {"N": "0"},
                "priceCents": {"N": "1250"},
                "currency": {"S": "EUR"},
            },
        )

    def place(self, _: int = 0) -> tuple[int, str | None, float]:
        """POST /orders for one item; the HTTP status, the order id and when the POST went out."""
        body = {
            "lines": [{"sku": self.sku, "quantity": 1}],
            "currency": "EUR",
            "paymentToken": "tok_visa",
            "onBehalfOf": f"c-{uuid.uuid4().hex[:8]}",
        }
        began = time.time()
        response = call(self.api_url, "POST", "/orders", body)
        order_id = response.body.get("orderId") if isinstance(response.body, dict) else None
        return response.status, order_id, began

    def status(self, order_id: str) -> str:
        response = call(self.api_url, "GET", f"/orders/{order_id}")
        return str(response.body.get("status")) if response.status == 200 else f"HTTP {response.status}"


def run_orders(server: Server, outputs_file: Path, orders: int) -> OrderRun:
    shop = Shop(server.endpoint, outputs_file)
    shop.stock(orders + 1)
    # Warm-up: one order through every function of the flow, so the burst starts on warm workers.
    status, order_id, _ = shop.place()
    if status != 202 or not order_id or not settle(server.endpoint).get("settled"):
        raise BenchError(f"the warm-up order did not go through: POST {status}, order {order_id}")
    since = http_json("GET", f"{server.endpoint}/_localcloud/trace?limit=1")["last"]
    idle_from = tree_cpu(server.process.pid)
    time.sleep(IDLE_SAMPLE_S)
    before = tree_cpu(server.process.pid)
    with ThreadPoolExecutor(max_workers=ORDER_CLIENTS) as pool:
        placed = list(pool.map(shop.place, range(orders)))
    settled = settle(server.endpoint)
    ended = time.time()
    cpu = tree_cpu(server.process.pid) - before
    # Read back only after the CPU reading: these GETs are not part of the burst's work.
    ids = [order_id for _, order_id, _ in placed if order_id]
    with ThreadPoolExecutor(max_workers=ORDER_CLIENTS) as pool:
        statuses = Counter(pool.map(shop.status, ids))
    return OrderRun(
        orders=orders,
        wall=ended - min(began for _, _, began in placed),
        settled=settled,
        posts=Counter(status for status, _, _ in placed),
        statuses=statuses,
        cpu=cpu,
        idle_cores=(before - idle_from).total / IDLE_SAMPLE_S,
        completed_latencies=completion_latencies(server.endpoint, since, placed),
    )


def completion_latencies(
    endpoint: str, since: int, placed: list[tuple[int, str | None, float]]
) -> list[float] | None:
    """POST → OrderCompleted event per completed order, from the trace; None if records fell off it."""
    answer = http_json("GET", f"{endpoint}/_localcloud/trace?since={since}&kind=event")
    if answer["last"] - since > TRACE_KEEP:
        return None
    completed = {
        r["event"]["detail"].get("orderId"): r["time"]
        for r in answer["records"]
        if isinstance(r.get("event"), dict) and r["event"].get("detail-type") == "OrderCompleted"
    }
    return [completed[order_id] - began for _, order_id, began in placed if order_id in completed]
