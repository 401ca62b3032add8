"""Reads back what a run left behind: tables, stacks, queues, alarms, and every place a token could leak.

Names come from the stack outputs where there is one, else from listing (DLQs, log groups, tables).
localcloud creates CloudWatch alarms but does not evaluate them: `evaluate_alarm` computes each
alarm's metric from what it watches (a queue's depth, a state machine's executions, a rule's DLQ
sends, EMF metrics in the log groups) and compares it with the threshold, as CloudWatch would.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from tests.faults.plan import TOKEN_PREFIX
from tests.local.conftest import Local

TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[0-9a-f]{16}")
DLQ_NAME = re.compile(r"dlq|deadletter|failure|parked", re.IGNORECASE)
_deserialize = TypeDeserializer().deserialize


@dataclass
class Queue:
    name: str
    url: str
    depth: int  # visible + in flight, before the suite read anything
    visible: int
    is_dlq: bool
    bodies: list[str] = field(default_factory=list)
    oldest_age: float = 0.0  # seconds since the oldest message was sent


@dataclass
class Alarm:
    name: str
    watches: str  # what the metric is about, e.g. "AWS/SQS ApproximateNumberOfMessagesVisible QueueName=..."
    queue: str | None
    value: float | None  # None: the suite cannot compute this metric locally
    threshold: float
    state: str  # ALARM | OK | not evaluated (computed by the suite)
    reported: str  # the state localcloud's CloudWatch reports
    dimensions: dict[str, str] = field(default_factory=dict)


@dataclass
class Snapshot:
    orders: dict[str, dict[str, Any]]
    payments: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    stock: dict[str, dict[str, Any]]
    pool: list[dict[str, Any]]
    trials: dict[str, dict[str, Any]]
    trial_stacks: dict[str, str]  # trial-environment stacks not deleted: name -> status
    queues: dict[str, Queue]
    alarms: list[Alarm]
    leaks: dict[str, set[str]]  # where -> tokens found there
    scanned: dict[str, int]  # what the leak scan read: tables, log groups, log events, bus events, ...

    def alarms_on(self, queue: str) -> list[Alarm]:
        return [a for a in self.alarms if a.queue == queue]


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [plain(v) for v in value]
    return value


class Reader:
    """One pass over a localcloud after a run."""

    def __init__(self, local: Local) -> None:
        self.local = local
        self.dynamodb = local.client("dynamodb")
        self.outputs = {k: v for stack in local.outputs.values() for k, v in stack.items()}

    def output(self, *keys: str) -> str | None:
        return next((self.outputs[k] for k in keys if k in self.outputs), None)

    def scan(self, table: str) -> list[dict[str, Any]]:
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        return [
            plain({k: _deserialize(v) for k, v in item.items()}) for page in pages for item in page["Items"]
        ]

    def take(self) -> Snapshot:
        tables = self.all_tables()
        orders = {i["orderId"]: i for i in self.scan(self.local.output("OrdersTableName"))}
        stock = {
            i["sku"]: i
            for i in self.scan(self.local.output("InventoryTableName"))
            if isinstance(i.get("available"), int)
        }
        trials = {i["trialId"]: i for i in self.scan(self.local.output("TrialsTableName"))}
        queues = self.queues()
        log_messages = self.log_messages()
        alarms = self.alarms(queues, log_messages)
        leaks, scanned = self.token_leaks(tables, queues, log_messages)
        return Snapshot(
            orders=orders,
            payments=self.scan(self.local.output("PaymentsTableName")),
            ledger=self.scan(self.local.output("LedgerTableName")),
            stock=stock,
            pool=self.scan(self.local.output("TrialPoolTableName")),
            trials=trials,
            trial_stacks=self.trial_stacks(),
            queues=queues,
            alarms=alarms,
            leaks=leaks,
            scanned=scanned,
        )

    def all_tables(self) -> list[str]:
        return [
            t for page in self.dynamodb.get_paginator("list_tables").paginate() for t in page["TableNames"]
        ]

    def token_table(self) -> str | None:
        named = self.output("PaymentTokensTableName", "PaymentTokenTableName", "TokensTableName")
        listed = [t for t in self.all_tables() if "paymenttoken" in t.lower().replace("-", "")]
        return named or (listed[0] if len(listed) == 1 else None)

    # -- stacks ------------------------------------------------------------------------------------
    def trial_stacks(self) -> dict[str, str]:
        """Every stack that is not one of the app's own and not deleted: the trial environments."""
        cloudformation = self.local.client("cloudformation")
        latest: dict[str, dict[str, Any]] = {}
        for page in cloudformation.get_paginator("list_stacks").paginate():
            for summary in page["StackSummaries"]:
                known = latest.get(summary["StackName"])
                if known is None or summary["CreationTime"] > known["CreationTime"]:
                    latest[summary["StackName"]] = summary
        app = set(self.local.outputs)
        return {
            name: s["StackStatus"]
            for name, s in latest.items()
            if name not in app and s["StackStatus"] != "DELETE_COMPLETE"
        }

    # -- queues ------------------------------------------------------------------------------------
    def queues(self) -> dict[str, Queue]:
        sqs = self.local.client("sqs")
        urls = [u for page in sqs.get_paginator("list_queues").paginate() for u in page.get("QueueUrls", [])]
        attributes = {
            u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"] for u in urls
        }
        redrive_targets = {
            json.loads(a["RedrivePolicy"])["deadLetterTargetArn"].rsplit(":", 1)[-1]
            for a in attributes.values()
            if a.get("RedrivePolicy")
        }
        queues = {}
        for url, attrs in attributes.items():
            name = url.rsplit("/", 1)[-1]
            visible = int(attrs.get("ApproximateNumberOfMessages", 0))
            depth = visible + int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))
            queue = Queue(
                name, url, depth, visible, is_dlq=name in redrive_targets or bool(DLQ_NAME.search(name))
            )
            if depth:
                queue.bodies, sent = self.peek(sqs, url)
                queue.oldest_age = max(time.time() - min(sent), 0.0) if sent else 0.0
            queues[name] = queue
        return queues

    @staticmethod
    def peek(sqs: Any, url: str) -> tuple[list[str], list[float]]:
        """Every message body and when it was sent, each message made visible again after it was read."""
        bodies, sent, handles = [], [], []
        for _ in range(100):
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["SentTimestamp"]
            ).get("Messages", [])
            if not batch:
                break
            bodies += [m["Body"] for m in batch]
            sent += [int(m["Attributes"]["SentTimestamp"]) / 1000 for m in batch if "Attributes" in m]
            handles += [m["ReceiptHandle"] for m in batch]
        for handle in handles:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        return bodies, sent

    # -- logs and alarms ---------------------------------------------------------------------------
    def log_messages(self) -> dict[str, list[str]]:
        logs = self.local.client("logs")
        groups = [
            g["logGroupName"]
            for p in logs.get_paginator("describe_log_groups").paginate()
            for g in p["logGroups"]
        ]
        messages: dict[str, list[str]] = {}
        for group in groups:
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
            messages[group] = [e["message"] for page in pages for e in page["events"]]
        return messages

    def alarms(self, queues: dict[str, Queue], log_messages: dict[str, list[str]]) -> list[Alarm]:
        cloudwatch = self.local.client("cloudwatch")
        described = [
            a for p in cloudwatch.get_paginator("describe_alarms").paginate() for a in p["MetricAlarms"]
        ]
        emf = emf_metrics(log_messages)
        dlq_sends = Counter(r.get("rule") for r in self.local.trace(kind="dlq"))
        return [evaluate_alarm(a, queues, emf, dlq_sends, self.executions) for a in described]

    def executions(self, state_machine_arn: str, status: str) -> int:
        stepfunctions = self.local.client("stepfunctions")
        pages = stepfunctions.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn, statusFilter=status
        )
        return sum(len(page["executions"]) for page in pages)

    # -- token leaks -------------------------------------------------------------------------------
    def token_leaks(
        self, tables: list[str], queues: dict[str, Queue], log_messages: dict[str, list[str]]
    ) -> tuple[dict[str, set[str]], dict[str, int]]:
        leaks: dict[str, set[str]] = {}

        def look(where: str, text: str) -> None:
            found = set(TOKEN.findall(text))
            if found:
                leaks.setdefault(where, set()).update(found)

        allowed = self.token_table()
        scanned = Counter[str]()
        for table in tables:
            if table == allowed:
                continue
            look(f"table {table}", json.dumps(self.scan(table), default=str))
            scanned["tables"] += 1
        for group, messages in log_messages.items():
            look(f"log group {group}", "\n".join(messages))
            scanned["log groups"] += 1
            scanned["log events"] += len(messages)
        bus_events = [
            r["event"] for r in self.local.trace(kind="event") if "event" in r
        ]  # what the archive holds, and more
        look("bus events / archive", json.dumps(bus_events))
        scanned["bus events"] = len(bus_events)
        look("IoT messages", json.dumps([r.get("payload") for r in self.local.trace(kind="iot")]))
        for queue in queues.values():
            look(f"queue {queue.name}", "\n".join(queue.bodies))
            scanned["queue messages"] += len(queue.bodies)
        scanned["executions"] = self.scan_executions(look)
        scanned["objects"] = self.scan_objects(look)
        return leaks, dict(scanned)

    def scan_executions(self, look: Any) -> int:
        """Every Standard execution's history (inputs and outputs of each state)."""
        stepfunctions = self.local.client("stepfunctions")
        count = 0
        for page in stepfunctions.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                if machine.get("type", "STANDARD") != "STANDARD":
                    continue
                arn = machine["stateMachineArn"]
                for listed in stepfunctions.get_paginator("list_executions").paginate(stateMachineArn=arn):
                    for execution in listed["executions"]:
                        history = stepfunctions.get_execution_history(
                            executionArn=execution["executionArn"], maxResults=1000
                        )["events"]
                        look(f"execution history of {machine['name']}", json.dumps(history, default=str))
                        count += 1
        return count

    def scan_objects(self, look: Any) -> int:
        s3 = self.local.client("s3")
        count = 0
        for bucket in s3.list_buckets()["Buckets"]:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
                for listed in page.get("Contents", []):
                    body = s3.get_object(Bucket=bucket["Name"], Key=listed["Key"])["Body"].read()
                    look(f"bucket {bucket['Name']}", body.decode("utf-8", "replace"))
                    count += 1
        return count


def emf_metrics(log_messages: dict[str, list[str]]) -> list[tuple[str, str, dict[str, Any], float]]:
    """(namespace, metric, the line's fields, value) for every metric of every EMF line."""
    found = []
    for messages in log_messages.values():
        for message in messages:
            if '"_aws"' not in message:
                continue
            try:
                line = json.loads(message)
            except ValueError:
                continue
            for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
                for metric in directive.get("Metrics", []):
                    value = line.get(metric.get("Name"))
                    total = sum(value) if isinstance(value, list) else value
                    if isinstance(total, int | float):
                        found.append((directive.get("Namespace", ""), metric["Name"], line, float(total)))
    return found


def evaluate_alarm(
    alarm: dict[str, Any],
    queues: dict[str, Queue],
    emf: list[tuple[str, str, dict[str, Any], float]],
    dlq_sends: Counter[Any],
    executions: Any,
) -> Alarm:
    namespace, metric = alarm.get("Namespace", ""), alarm.get("MetricName", "")
    dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
    watches = f"{namespace} {metric} " + " ".join(f"{k}={v}" for k, v in dimensions.items())
    value: float | None = None
    queue = dimensions.get("QueueName") if namespace == "AWS/SQS" else None
    if queue is not None and queue in queues:
        if metric == "ApproximateNumberOfMessagesVisible":
            value = queues[queue].visible
        elif metric == "ApproximateAgeOfOldestMessage":
            value = queues[queue].oldest_age
    elif namespace == "AWS/States" and metric.startswith("Executions") and "StateMachineArn" in dimensions:
        status = {
            "ExecutionsFailed": "FAILED",
            "ExecutionsTimedOut": "TIMED_OUT",
            "ExecutionsAborted": "ABORTED",
        }
        if metric in status:
            value = executions(dimensions["StateMachineArn"], status[metric])
    elif namespace == "AWS/Events" and metric in {"InvocationsSentToDlq", "FailedInvocations"}:
        value = dlq_sends.get(dimensions.get("RuleName"), 0)
    elif not namespace.startswith("AWS/") and metric:
        matching = [
            v
            for ns, name, line, v in emf
            if ns == namespace
            and name == metric
            and all(str(line.get(k)) == str(d) for k, d in dimensions.items())
        ]
        value = sum(matching)
    threshold = float(alarm.get("Threshold", 0))
    state = "not evaluated" if value is None else ("ALARM" if _breaches(value, alarm, threshold) else "OK")
    return Alarm(
        alarm["AlarmName"],
        watches.strip(),
        queue,
        value,
        threshold,
        state,
        alarm.get("StateValue", ""),
        dimensions,
    )


def _breaches(value: float, alarm: dict[str, Any], threshold: float) -> bool:
    operator = alarm.get("ComparisonOperator", "GreaterThanOrEqualToThreshold")
    return {
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "GreaterThanThreshold": value > threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }.get(operator, False)
