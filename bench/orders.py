"""Order throughput through localcloud (fast mode): orders completed per second, p50/p99 latency.

Starts localcloud on a free port with the synthesized app, stocks one SKU, places ORDERS orders
through the signed REST API from a few client threads, and reads each order's OrderCompleted
event time from the trace. What it measures is localcloud running the real handlers and
workflows on this machine, not AWS: use it to compare changes, not to size production.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.demo import free_port  # noqa: E402
from tests.local.api import call  # noqa: E402

ORDERS = int(os.environ.get("BENCH_ORDERS", "100"))
CLIENTS = 4


def wait_ready(endpoint: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("localcloud exited")
        try:
            with urllib.request.urlopen(f"{endpoint}/_localcloud/health", timeout=2) as response:
                if json.loads(response.read()).get("status") == "ready":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("localcloud not ready")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    outputs_file = ROOT / ".localcloud" / "bench-outputs.json"
    outputs_file.parent.mkdir(exist_ok=True)
    env = {**os.environ, "LOCALCLOUD_FAST": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localcloud",
            "--port",
            str(port),
            "--quiet",
            "--outputs-file",
            str(outputs_file),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(endpoint, server)
        outputs = {
            k: v for values in json.loads(outputs_file.read_text()).values() for k, v in values.items()
        }
        import boto3

        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        sku = f"BENCH-{uuid.uuid4().hex[:6].upper()}"
        dynamodb.put_item(
            TableName=outputs["InventoryTableName"],
            Item={"sku": {"S": sku}, "available": {"N": str(ORDERS)}, "reserved": {"N": "0"}},
        )
        body = {
            "customerId": "bench",
            "lines": [{"sku": sku, "quantity": 1, "unitPriceCents": 100}],
            "currency": "EUR",
            "paymentToken": "tok_visa",
        }

        def place(_: int) -> tuple[str, float]:
            started = time.time()
            response = call(outputs["ApiUrl"], "POST", "/orders", body)
            assert response.status == 202, response
            return response.body["orderId"], started

        began = time.time()
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            placed = dict(pool.map(place, range(ORDERS)))
        request = urllib.request.Request(
            f"{endpoint}/_localcloud/settle",
            data=b'{"timeout": 600}',
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(request, timeout=700).read()
        except urllib.error.HTTPError as error:  # not settled: report what did complete
            print(f"localcloud did not settle: {error.read().decode()}")
        with urllib.request.urlopen(f"{endpoint}/_localcloud/trace?kind=event", timeout=60) as response:
            records = json.loads(response.read())["records"]
        completed = {
            r["event"]["detail"]["orderId"]: r["time"]
            for r in records
            if r.get("bus") == outputs["EventBusName"] and r["event"]["detail-type"] == "OrderCompleted"
        }
        latencies = [completed[order] - started for order, started in placed.items() if order in completed]
        if not latencies:
            raise SystemExit("no order completed")
        elapsed = max(completed.values()) - began
        print(
            f"Orders through localcloud (fast mode), {ORDERS} orders from {CLIENTS} clients, "
            f"{datetime.now().isoformat(timespec='seconds')}"
        )
        print("| metric | value |")
        print("|---|---|")
        print(f"| orders completed | {len(latencies)} of {ORDERS} |")
        print(f"| orders placed → completed per second | {len(latencies) / elapsed:.1f} |")
        print(f"| POST → OrderCompleted p50 | {statistics.median(latencies) * 1000:.0f} ms |")
        print(f"| POST → OrderCompleted p99 | {percentile(latencies, 0.99) * 1000:.0f} ms |")
    finally:
        server.terminate()
        server.wait(timeout=15)


if __name__ == "__main__":
    main()
