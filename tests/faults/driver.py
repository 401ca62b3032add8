"""Drives orders and trials through localcloud with faults injected: what a hostile day looks like.

Everything random comes from one `random.Random(seed)`: which orders are declined, duplicated, forged.
(The fault switch draws its own rates inside localcloud, so which invocation a 10 % fault hits is
not reproducible; what the suite sends is.)
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from tests.faults.plan import CATALOGUE, FINAL, TOKEN_PREFIX, UNKNOWN_SKU, Run, Scale, SentOrder, SentTrial
from tests.local.api import Response, call
from tests.local.conftest import Local

POST_ATTEMPTS = 8  # a client retries 5xx/429 with the same Idempotency-Key
POOL_SCHEDULE = re.compile(r"reconcil|refill|pool", re.IGNORECASE)


class Driver:
    """Sets the catalogue and the pool up, then runs the phases of a run against one localcloud."""

    def __init__(self, local: Local, scale: Scale) -> None:
        self.local = local
        self.scale = scale
        self.random = random.Random(scale.seed)
        self.api_url = local.output("ApiUrl")
        self.bus = local.output("EventBusName")
        self.run = Run(scale=scale)
        self.outage: list[dict[str, Any]] = []

    # -- the whole run -----------------------------------------------------------------------------
    def go(self) -> Run:
        started = time.monotonic()
        self.stock_catalogue()
        self.warm_pool()
        self.plan_orders()
        self.place(self.run.orders[0])  # before the faults: learns which body the API takes
        self.inject_faults()
        sending = time.monotonic()
        self.send_everything()
        self.run.settled.append(f"sent {time.monotonic() - sending:.0f} s")
        self.wait_for_final_orders()
        self.expire_trials()
        self.settle("expiry")
        self.run.faults = self.faults("GET")["faults"] + self.outage
        self.faults("DELETE")
        self.replay_and_forge()
        self.settle("replays + forged")
        self.age_stuck_orders()
        self.fire_schedules()
        self.settle("schedules")
        self.run.seconds = time.monotonic() - started
        return self.run

    # -- setup -------------------------------------------------------------------------------------
    def stock_catalogue(self) -> None:
        dynamodb = self.local.client("dynamodb")
        for item in CATALOGUE:
            dynamodb.put_item(
                TableName=self.local.output("InventoryTableName"),
                Item={
                    "sku": {"S": item.sku},
                    "available": {"N": str(item.initial)},
                    "reserved": {"N": "0"},
                    "sold": {"N": "0"},
                    "priceCents": {"N": str(item.price_cents)},
                    "currency": {"S": "EUR"},
                },
            )

    def warm_pool(self) -> None:
        """What the schedule (or an operator) does before trials arrive: fill the warm pool. The
        pool's scheduled reconcile if there is one, else the environment manager's refill action."""
        if not self.fire_schedules(POOL_SCHEDULE):
            response = self.local.client("lambda").invoke(
                FunctionName=self.local.output("EnvironmentManagerFunctionName"),
                Payload=json.dumps({"action": "refill"}).encode(),
            )
            if "FunctionError" in response:
                self.run.notes.append(f"pool refill failed: {response['Payload'].read()[:160]!r}")
        self.settle("pool")

    def plan_orders(self) -> None:
        rng = self.random
        # Orders 1-6 are one of each unhappy kind (and the scarce item sold out), so even the reduced
        # run has them; the rest are drawn: 75 % normal, 5 % unknown SKU, 10 % declined, 10 % scarce.
        fixed = [0.01, 0.10, 0.20, 0.20, 0.20, 0.20]
        for n in range(self.scale.orders):
            roll = fixed[n - 1] if 1 <= n <= len(fixed) else rng.random()
            if n == 0 or roll >= 0.25:
                intent, sku, quantity = "normal", rng.choice(("FZ-BOOK", "FZ-MUG")), rng.randint(1, 3)
            elif roll < 0.05:
                intent, sku, quantity = "unknown-sku", UNKNOWN_SKU, 1
            elif roll < 0.15:
                intent, sku, quantity = "declined", "FZ-LUXE", 2
            else:
                intent, sku, quantity = "scarce", "FZ-SCARCE", 1
            self.run.orders.append(
                SentOrder(
                    key=f"fz-{self.scale.seed}-{n}",
                    token=f"{TOKEN_PREFIX}{rng.getrandbits(64):016x}",
                    lines=[{"sku": sku, "quantity": quantity}],
                    intent=intent,
                )
            )
        self.run.trials = [
            SentTrial(lead_id=f"fz-lead-{self.scale.seed}-{n}") for n in range(self.scale.trials)
        ]
        for trial in self.random.sample(self.run.trials, self.scale.trials // 2):
            trial.expire = True

    # -- faults ------------------------------------------------------------------------------------
    def faults(self, method: str, body: Any = None, query: str = "") -> dict[str, Any]:
        return dict(self.local.call(method, f"/_localcloud/faults{query}", body))

    def inject_faults(self) -> None:
        s = self.scale
        lambdas = self.local.client("lambda")
        functions = [f["FunctionName"] for f in lambdas.list_functions()["Functions"]]
        specs: list[dict[str, Any]] = []
        for name in functions:
            specs.append(
                {"function": name, "effect": "error", "errorType": "FaultInjected", "rate": s.fault_rate}
            )
            specs.append({"function": name, "effect": "throttle", "rate": s.throttle_rate})
        for mapping in lambdas.list_event_source_mappings()["EventSourceMappings"]:
            source = mapping["EventSourceArn"]
            kind = "queue" if source.startswith("arn:aws:sqs:") else "stream"
            specs.append({kind: source, "effect": "duplicate", "rate": s.duplicate_rate})
        events = self.local.client("events")
        for bus in ("default", self.bus):
            for rule in events.list_rules(EventBusName=bus)["Rules"]:
                specs.append({"rule": rule["Name"], "effect": "duplicate", "rate": s.duplicate_rate})
        specs.append(
            {"service": "events", "operation": "PutEvents", "effect": "fail", "rate": s.failed_entry_rate}
        )
        added = self.faults("POST", {"faults": specs})
        assert "faults" in added, f"the fault switch refused the faults: {added}"

    def payment_outage(self, begin_after: float) -> None:
        """The payment function errors for `outage_seconds`, then recovers."""
        time.sleep(begin_after)
        spec = {
            "function": self.local.output("PaymentFunctionName"),
            "effect": "error",
            "errorType": "ProviderDown",
        }
        if self.scale.outage_invocations:
            spec["times"] = self.scale.outage_invocations
        added = self.faults("POST", {"faults": [spec]})
        time.sleep(self.scale.outage_seconds)
        fault_id = added["faults"][0]["id"]
        self.outage = [f for f in self.faults("GET")["faults"] if f.get("id") == fault_id]
        self.faults("DELETE", query=f"?id={fault_id}")

    # -- load --------------------------------------------------------------------------------------
    def send_everything(self) -> None:
        outage = threading.Thread(target=self.payment_outage, args=(1.0,), daemon=True)
        outage.start()
        work: list[Any] = [*self.run.orders[1:], *self.run.trials]
        self.random.shuffle(work)
        with ThreadPoolExecutor(self.scale.clients) as clients:
            list(clients.map(self.send, work))
        self.poison_payment_queue()
        self.put_malformed_entries()
        outage.join()

    def send(self, item: SentOrder | SentTrial) -> None:
        if isinstance(item, SentOrder):
            self.place(item)
        else:
            self.request_trial(item)

    def body(self, order: SentOrder) -> dict[str, Any]:
        if self.run.body_style == "target":
            return {"lines": order.lines, "currency": "EUR", "paymentToken": order.token}
        prices = {item.sku: item.price_cents for item in CATALOGUE}
        lines = [{**line, "unitPriceCents": prices.get(line["sku"], 100)} for line in order.lines]
        return {
            "customerId": f"c-{order.key}",
            "lines": lines,
            "currency": "EUR",
            "paymentToken": order.token,
        }

    def place(self, order: SentOrder) -> None:
        response = self._post("/orders", lambda: self.body(order), order.key, order)
        if response.status == 400 and self.run.body_style == "target" and order is self.run.orders[0]:
            self.run.body_style = "legacy"  # the API still takes client prices and customer ids
            self.run.notes.append("intake refused the target body: orders sent with client prices")
            response = self._post("/orders", lambda: self.body(order), order.key, order)
        order.status = response.status
        if response.status == 202 and isinstance(response.body, dict):
            order.order_id = response.body.get("orderId")

    def request_trial(self, trial: SentTrial) -> None:
        response = self._post(
            "/trials", lambda: {"leadId": trial.lead_id, "type": "ACS"}, trial.lead_id, None
        )
        trial.status = response.status
        if response.status == 202 and isinstance(response.body, dict):
            trial.trial_id = response.body.get("trialId")

    def _post(self, path: str, body: Any, key: str, order: SentOrder | None) -> Response:
        response = Response(0, None, {})
        for attempt in range(POST_ATTEMPTS):
            if order is not None:
                order.attempts += 1
            try:
                response = call(self.api_url, "POST", path, body(), {"Idempotency-Key": key})
            except OSError as error:  # a dropped connection is retried like a 5xx
                response = Response(599, str(error), {})
            if response.status < 500 and response.status != 429:
                return response
            time.sleep(min(0.2 * 2**attempt, 3.0))
        return response

    def poison_payment_queue(self) -> None:
        sqs = self.local.client("sqs")
        for body in (
            "{not a payment request",
            json.dumps({"paymentRef": "pay_" + "0" * 32, "taskToken": "x"}),
        ):
            sqs.send_message(QueueUrl=self.local.output("PaymentQueueUrl"), MessageBody=body)
            self.run.poison_messages += 1

    def put_malformed_entries(self) -> None:
        entries = [
            ("myapp.orders", "OrderPlaced", {"orderId": "not-an-order", "lines": "none"}),
            ("myapp.orders", "OrderPlaced", {"version": "9.9", "orderId": str(uuid.uuid4())}),
            ("myapp.payments", "PaymentCharged", {"orderId": 42}),
            ("OnlineTrial", "TrialExpired", {"trialId": ["x"]}),
        ]
        self.put_entries([(source, kind, json.dumps(detail)) for source, kind, detail in entries])
        self.put_entries([("myapp.orders", "OrderPlaced", "{truncated")])  # refused by PutEvents itself
        self.run.malformed_entries += len(entries) + 1

    def put_entries(self, entries: list[tuple[str, str, str]]) -> None:
        """PutEvents on the app's bus, 10 entries a request, each failed entry retried (the fault switch
        fails some); entries refused for what they are (malformed) are noted, not retried."""
        events = self.local.client("events")
        every = [{"Source": s, "DetailType": t, "Detail": d, "EventBusName": self.bus} for s, t, d in entries]
        for start in range(0, len(every), 10):
            pending = every[start : start + 10]
            for _ in range(10):
                if not pending:
                    break
                try:
                    result = events.put_events(Entries=pending)
                except ClientError as error:  # a request refused whole (e.g. a detail that is not JSON)
                    code = error.response["Error"]["Code"]
                    self.run.notes.append(f"PutEvents refused {len(pending)} entr(ies): {code}")
                    break
                answers = list(zip(pending, result["Entries"], strict=True))
                refused = [
                    a["ErrorCode"]
                    for _, a in answers
                    if a.get("ErrorCode", "InternalFailure") != "InternalFailure"
                ]
                if refused:
                    self.run.notes.append(f"PutEvents refused entries: {sorted(set(refused))}")
                pending = [entry for entry, answer in answers if answer.get("ErrorCode") == "InternalFailure"]

    # -- trials ------------------------------------------------------------------------------------
    def expire_trials(self) -> None:
        """Half the trials' time is up: their expiry moves to the past, and the TTL sweeper runs."""
        dynamodb = self.local.client("dynamodb")
        table = self.local.output("TrialsTableName")
        past = int(time.time()) - 3600
        for trial in self.run.trials:
            if trial.expire and trial.trial_id:
                try:
                    dynamodb.update_item(
                        TableName=table,
                        Key={"trialId": {"S": trial.trial_id}},
                        UpdateExpression="SET expiresAt = :past",
                        ConditionExpression="attribute_exists(trialId)",
                        ExpressionAttributeValues={":past": {"N": str(past)}},
                    )
                except dynamodb.exceptions.ConditionalCheckFailedException:
                    self.run.notes.append(f"trial {trial.trial_id} gone before its expiry")
        self.local.call("POST", "/_localcloud/clock", {"advance": 1})

    # -- replays, forgeries, schedules -------------------------------------------------------------
    def replay_and_forge(self) -> None:
        placed = [
            r["event"]
            for r in self.local.trace(kind="event")
            if r.get("bus") == self.bus and r.get("event", {}).get("detail-type") == "OrderPlaced"
        ]
        statuses = self.order_statuses()
        final = [o.order_id for o in self.run.orders if o.order_id and statuses.get(o.order_id) in FINAL]
        replay = set(self.random.sample(final, max(1, len(final) // 10))) if final else set()
        seen: set[str] = set()
        entries: list[tuple[str, str, str]] = []
        for event in placed:
            order_id = event["detail"].get("orderId")
            if order_id in replay and order_id not in seen:
                seen.add(order_id)
                entries.append((event["source"], event["detail-type"], json.dumps(event["detail"])))
        self.run.replayed = {order_id: statuses[order_id] for order_id in sorted(seen)}
        entries += self.forged_order_events(statuses, exclude=seen)
        entries += self.forged_trial_events()
        self.put_entries(entries)

    def forged_order_events(self, statuses: dict[str, str], exclude: set[str]) -> list[tuple[str, str, str]]:
        """OrderCompleted and PaymentCharged for orders that were never completed (nor replayed)."""
        charged = {str(p["orderId"]["S"]) for p in self.scan("PaymentsTableName") if "orderId" in p}
        unfinished = {
            o for o, status in statuses.items() if status in {"REJECTED", "FAILED"} and o not in exclude
        }
        candidates = sorted(unfinished - charged) or sorted(unfinished)
        chosen = self.random.sample(candidates, min(self.scale.forged, len(candidates)))
        self.run.forged_orders = chosen
        entries = []
        for order_id in chosen:
            completed = {
                "version": "1.0",
                "orderId": order_id,
                "customerId": "forger",
                "totalCents": 1,
                "currency": "EUR",
                "invoiceKey": f"invoices/{order_id}.json",
                "completedAt": "2026-01-01T00:00:00+00:00",
            }
            charged = {
                "version": "1.0",
                "orderId": order_id,
                "paymentRef": "pay_" + "f" * 32,
                "chargeId": "ch_forged",
                "amountCents": 1,
                "currency": "EUR",
                "chargedAt": "2026-01-01T00:00:00+00:00",
            }
            entries.append(("myapp.orders", "OrderCompleted", json.dumps(completed)))
            entries.append(("myapp.payments", "PaymentCharged", json.dumps(charged)))
        return entries

    def forged_trial_events(self) -> list[tuple[str, str, str]]:
        """A TrialExpired for a trial that is live and assigned."""
        table = self.local.output("TrialsTableName")
        rows = self.local.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
        live = sorted(
            (r for r in rows if r.get("status", {}).get("S") == "ASSIGNED"), key=lambda r: r["trialId"]["S"]
        )
        if not live:
            self.run.notes.append("no live assigned trial to forge a TrialExpired for")
            return []
        row = live[0]
        self.run.forged_trials = [row["trialId"]["S"]]
        detail = {
            "version": "1.0",
            "trialId": row["trialId"]["S"],
            "leadId": row["leadId"]["S"],
            "type": row["type"]["S"],
            "requestedAt": int(row["requestedAt"]["N"]),
            "status": "EXPIRED",
        }
        return [("OnlineTrial", "TrialExpired", json.dumps(detail))]

    def scan(self, output: str) -> list[dict[str, Any]]:
        pages = (
            self.local.client("dynamodb")
            .get_paginator("scan")
            .paginate(TableName=self.local.output(output), ConsistentRead=True)
        )
        return [item for page in pages for item in page["Items"]]

    def order_statuses(self) -> dict[str, str]:
        return {i["orderId"]["S"]: i.get("status", {}).get("S", "") for i in self.scan("OrdersTableName")}

    def age_stuck_orders(self) -> None:
        """Time passes for orders still not final: their deadline moves to the past, so the order
        sweeper (fired next) finds them, as it would once the deadline really passed."""
        statuses = self.order_statuses()
        past = "2000-01-01T00:00:00+00:00"
        for order_id, status in sorted(statuses.items()):
            if status in FINAL:
                continue
            self.local.client("dynamodb").update_item(
                TableName=self.local.output("OrdersTableName"),
                Key={"orderId": {"S": order_id}},
                UpdateExpression="SET deadline = :past",
                ConditionExpression="#status = :status",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":past": {"S": past}, ":status": {"S": status}},
            )
            self.run.aged.append(order_id)

    def fire_schedules(self, only: re.Pattern[str] | None = None) -> int:
        """Runs the scheduled rules now (the order sweeper, the pool reconcile), if localcloud can;
        returns how many fired."""
        events = self.local.client("events")
        fired = 0
        for bus in ("default", self.bus):
            for rule in events.list_rules(EventBusName=bus)["Rules"]:
                if not rule.get("ScheduleExpression") or (only and not only.search(rule["Name"])):
                    continue
                path = f"/_localcloud/schedules/{rule['Name']}?bus={bus}"
                try:
                    answer = self.local.call("POST", path, {})
                except ValueError:  # not JSON: a localcloud without the schedules route
                    answer = {"error": "no schedules route"}
                ok = isinstance(answer, dict) and "eventId" in answer
                fired += ok
                if only is None:
                    self.run.schedules_fired.append(f"{rule['Name']}: {'fired' if ok else answer}")
        return fired

    def wait_for_final_orders(self) -> None:
        """Settles, then waits (bounded) until every accepted order is final: an order waiting on a
        lost payment message ends only when its heartbeat times out."""
        started = time.monotonic()
        deadline = started + self.scale.final_wait_seconds
        self.settle("load")
        accepted = {o.order_id for o in self.run.orders if o.order_id}
        while True:
            statuses = self.order_statuses()
            open_orders = [o for o in accepted if statuses.get(o) not in FINAL]
            if not open_orders or time.monotonic() > deadline:
                break
            time.sleep(2)
            self.settle("final wait", record=False)
        waited = time.monotonic() - started
        self.run.settled.append(
            f"orders final after {waited:.0f} s: {len(accepted) - len(open_orders)}/{len(accepted)}"
        )

    def settle(self, phase: str, record: bool = True) -> None:
        timeout = self.scale.settle_seconds
        answer = self.local.call("POST", "/_localcloud/settle", {"timeout": timeout}, timeout=timeout + 10)
        if record:
            self.run.settled.append(
                f"{phase}: " + ("ok" if answer.get("settled") else f"NOT settled {answer}")
            )
