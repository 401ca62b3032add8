"""`make demo`: start localcloud, trigger every flow with the sample entries, check each reached its end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Demo:
    """A localcloud started in the background, and what a flow check needs from it."""

    def __init__(self, endpoint: str, outputs: dict[str, dict[str, str]]) -> None:
        self.endpoint = endpoint
        self.outputs = outputs

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def output(self, key: str) -> str:
        return next(values[key] for values in self.outputs.values() if key in values)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.endpoint}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read())

    def settle(self) -> bool:
        return bool(self.call("POST", "/_localcloud/settle", {"timeout": 60}).get("settled"))

    def put_sample(self, name: str) -> list[dict[str, Any]]:
        entries = json.loads((ROOT / "events" / name).read_text())
        response = self.client("events").put_events(Entries=entries)
        if response["FailedEntryCount"]:
            raise RuntimeError(f"{name}: PutEvents failed: {response['Entries']}")
        return list(response["Entries"])

    def queue_depth(self, url_output: str) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.output(url_output), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])


@dataclass
class Flow:
    name: str
    run: Callable[[Demo], list[str]]  # returns the problems found; empty means the flow reached its end


def signup_flow(demo: Demo) -> list[str]:
    """user_signup on the default bus (the tutorial's command) → welcome email sent, notice published."""
    ses = demo.client("ses")
    before = ses.get_send_quota()["SentLast24Hours"]
    since = demo.call("GET", "/_localcloud/trace?limit=0")["last"]
    demo.put_sample("user_signup.json")
    problems = [] if demo.settle() else ["localcloud did not settle"]
    sent = ses.get_send_quota()["SentLast24Hours"] - before
    if sent != 1:
        problems.append(f"expected 1 welcome email, SES counted {sent}")
    deliveries = [r for r in demo.call("GET", f"/_localcloud/trace?since={since}&kind=deliver")["records"]]
    if not any("sns:" in r["message"] and r.get("outcome") == "delivered" for r in deliveries):
        problems.append("the signup notification did not reach the SNS topic")
    for dlq in ("WelcomeEmailFailureDlqUrl", "SignupRuleDlqUrl", "ForwardingDlqUrl"):
        if depth := demo.queue_depth(dlq):
            problems.append(f"{depth} message(s) parked in {dlq}")
    return problems


def api(demo: Demo, method: str, path: str, body: Any = None) -> Any:
    from tests.local.api import call

    return call(demo.output("ApiUrl"), method, path, body)


def order_flow(demo: Demo) -> list[str]:
    """POST /orders (events/api/place_order.json) → OrderPlaced → workflow → payment → COMPLETED."""
    request = json.loads((ROOT / "events" / "api" / "place_order.json").read_text())
    dynamodb = demo.client("dynamodb")
    for line in request["lines"]:
        dynamodb.put_item(
            TableName=demo.output("InventoryTableName"),
            Item={
                "sku": {"S": line["sku"]},
                "available": {"N": "100"},
                "reserved": {"N": "0"},
                "sold": {"N": "0"},
                "priceCents": {"N": "1250"},  # the catalogue prices the order, not the request
                "currency": {"S": request["currency"]},
            },
        )
    placed = api(demo, "POST", "/orders", request)
    if placed.status != 202:
        return [f"POST /orders answered {placed.status}: {placed.body}"]
    declined = api(
        demo, "POST", "/orders", json.loads((ROOT / "events/api/place_order_declined.json").read_text())
    )
    problems = [] if demo.settle() else ["localcloud did not settle"]
    order = api(demo, "GET", f"/orders/{placed.body['orderId']}").body
    if order.get("status") != "COMPLETED":
        problems.append(f"order {placed.body['orderId']} is {order.get('status')}, not COMPLETED")
    elif (
        not demo.client("s3")
        .list_objects_v2(Bucket=demo.output("InvoiceBucketName"), Prefix=order["invoiceKey"])
        .get("KeyCount")
    ):
        problems.append("no invoice in S3")
    failed = api(demo, "GET", f"/orders/{declined.body['orderId']}").body
    if failed.get("status") != "FAILED":
        problems.append(f"the declined order is {failed.get('status')}, not FAILED")
    for dlq in ("PaymentDlqUrl",):
        if depth := demo.queue_depth(dlq):
            problems.append(f"{depth} message(s) parked in {dlq}")
    return problems


def trial_flow(demo: Demo) -> list[str]:
    """Reconcile the pool, POST /trials → assigned + refilled, then expiry via the clock → stack deleted."""
    manager = demo.output("EnvironmentManagerFunctionName")
    refill = demo.client("lambda").invoke(
        FunctionName=manager, Payload=json.dumps({"action": "reconcile"}).encode()
    )
    if "FunctionError" in refill:
        return [f"refilling the pool failed: {refill['Payload'].read()!r}"]
    demo.settle()
    requested = api(
        demo, "POST", "/trials", json.loads((ROOT / "events" / "api" / "request_trial.json").read_text())
    )
    if requested.status not in (200, 202):  # 200: this lead's trial of that type exists already
        return [f"POST /trials answered {requested.status}: {requested.body}"]
    problems = [] if demo.settle() else ["localcloud did not settle"]
    trial = api(demo, "GET", f"/trials/{requested.body['trialId']}").body
    if trial.get("status") != "ASSIGNED":
        return [*problems, f"trial is {trial.get('status')}, not ASSIGNED"]
    demo.call("POST", "/_localcloud/clock", {"advance": 8 * 24 * 3600})
    demo.settle()
    if api(demo, "GET", f"/trials/{requested.body['trialId']}").status != 404:
        problems.append("the trial did not expire")
    pool = demo.client("dynamodb").scan(TableName=demo.output("TrialPoolTableName"))["Items"]
    deleted = [e for e in pool if e.get("trialId", {}).get("S") == requested.body["trialId"]]
    if not deleted or deleted[0]["status"]["S"] != "DELETED":
        problems.append("the expired trial's environment was not deleted")
    return problems


FLOWS = [
    Flow("signup: user_signup -> welcome email + notification", signup_flow),
    Flow(
        "orders: POST /orders -> workflow -> payment -> fulfillment -> COMPLETED (and one declined)",
        order_flow,
    ),
    Flow(
        "trials: POST /trials -> assigned, pool refilled -> expiry via the clock -> stack deleted", trial_flow
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    port = int(os.environ.get("LOCALCLOUD_PORT") or free_port())
    endpoint = f"http://127.0.0.1:{port}"
    log_path = ROOT / ".localcloud" / "demo.log"
    log_path.parent.mkdir(exist_ok=True)
    outputs_file = ROOT / ".localcloud" / "demo-outputs.json"
    env = {**os.environ, "LOCALCLOUD_FAST": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    print(f"demo: starting localcloud on {endpoint} (fast mode); log in {log_path.relative_to(ROOT)}")
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "--port", str(port), "--outputs-file", str(outputs_file)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                print(log_path.read_text())
                print(f"demo: localcloud exited with {server.returncode}")
                return 1
            try:
                with urllib.request.urlopen(f"{endpoint}/_localcloud/health", timeout=2) as response:
                    if json.loads(response.read()).get("status") == "ready":
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                print("demo: localcloud was not ready within 120 s")
                return 1
            time.sleep(0.2)
        demo = Demo(endpoint, json.loads(outputs_file.read_text()))
        results = []
        for flow in FLOWS:
            started = time.monotonic()
            try:
                problems = flow.run(demo)
            except Exception as error:  # a crashed check is a failed flow, reported, not a traceback
                problems = [f"{type(error).__name__}: {error}"]
            results.append((flow.name, problems, time.monotonic() - started))
        print("\n--- trace ---")
        for record in demo.call("GET", "/_localcloud/trace")["records"]:
            print(f"{record['kind']:<10} {record['message']}")
        print("\n--- summary ---")
        for name, problems, seconds in results:
            print(f"{'PASS' if not problems else 'FAIL'}  {name}  ({seconds:.1f} s)")
            for problem in problems:
                print(f"      - {problem}")
        failed = sum(1 for _, problems, _ in results if problems)
        print(f"{len(results) - failed} passed, {failed} failed")
        return 1 if failed else 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
