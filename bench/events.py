"""PutEvents → rule → SQS and PutEvents → rule → no-op Lambda, driven by the same client code."""

from __future__ import annotations

import io
import json
import os
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.servers import TRACE_KEEP, BenchError, Server, client, http_json, settle, tree_cpu

EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
EVENT_CLIENTS = int(os.environ.get("BENCH_EVENT_CLIENTS", "4"))
DRAINERS = int(os.environ.get("BENCH_DRAINERS", "4"))
MAX_BACKLOG = int(os.environ.get("BENCH_MAX_BACKLOG", "100"))
BATCH = 10
# The one-client PutEvents latency run after the throughput run: sequential calls of BATCH entries.
# moto_server gets fewer: at ~170 ms a call (one client), 500 calls would take about a minute and a half.
ONE_CLIENT_CALLS = int(os.environ.get("BENCH_ONE_CLIENT_CALLS", "500"))
ONE_CLIENT_CALLS_MOTO = int(os.environ.get("BENCH_ONE_CLIENT_CALLS_MOTO", "50"))

# How long the drainers wait for a message that may still come once every PutEvents has returned:
# longer than SQS's default visibility timeout (30 s), so a message whose receive was lost comes back.
DRAIN_QUIET_S = 45.0
SOURCE, DETAIL_TYPE = "bench.localcloud", "Tick"
PATTERN = {"source": [SOURCE], "detail-type": [DETAIL_TYPE], "detail": {"kind": ["tick"]}}
NOOP_HANDLER = "def handler(event, context):\n    return None\n"


# -- PutEvents -------------------------------------------------------------------------------------
@dataclass
class Sent:
    """What the sender threads did: entries accepted and failed, call errors, and call latencies."""

    started: float = 0.0  # time.time() as the first PutEvents went out
    accepted: int = 0
    failed_entries: Counter[str] = field(default_factory=Counter)
    call_errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def entries(bus: str, first: int) -> list[dict[str, str]]:
    detail = {"kind": "tick", "text": "x" * 64}
    return [
        {
            "EventBusName": bus,
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps({**detail, "seq": n}),
        }
        for n in range(first, first + BATCH)
    ]


class Backlog:
    """Events sent but not received yet, kept under a cap (0: no cap) by making the senders wait.

    A producer that outruns its consumer measures how a server copes with an ever deeper queue
    (moto's SQS costs grow with the depth of the queue) rather than how fast events go through.
    """

    def __init__(self, cap: int) -> None:
        self.cap = max(cap, BATCH) if cap > 0 else 0
        self.outstanding = 0
        self.highest = 0
        self.stalls = 0  # waits given up after DRAIN_QUIET_S: events that never arrive hold their room
        self._room = threading.Condition()

    def reserve(self, n: int) -> None:
        with self._room:
            fits = lambda: self.outstanding + n <= self.cap  # noqa: E731
            if self.cap and not self._room.wait_for(fits, timeout=DRAIN_QUIET_S):
                self.stalls += 1
            self.outstanding += n
            self.highest = max(self.highest, self.outstanding)

    def release(self, n: int) -> None:
        with self._room:
            self.outstanding -= n
            self._room.notify_all()


def send_events(
    endpoint: str,
    bus: str,
    total: int,
    threads: int,
    sent: Sent,
    backlog: Backlog | None = None,
    first: int = 0,
) -> None:
    """Puts `total` events in batches of 10 from `threads` threads that start together, into `sent`.

    Their sequence numbers start at `first`.
    """
    backlog = backlog or Backlog(0)
    batches = [first + n * BATCH for n in range(total // BATCH)]
    clients = [client("events", endpoint) for _ in range(threads)]
    go = threading.Barrier(threads + 1)

    def sender(index: int) -> None:
        events = clients[index]
        go.wait()
        for first in batches[index::threads]:
            backlog.reserve(BATCH)
            began = time.perf_counter()
            try:
                response = events.put_events(Entries=entries(bus, first))
            except Exception as error:  # counted and shown: the benchmark does not retry
                backlog.release(BATCH)
                with sent.lock:
                    sent.call_errors[type(error).__name__] += 1
                continue
            took = time.perf_counter() - began
            failed = [e["ErrorCode"] for e in response["Entries"] if "ErrorCode" in e]
            backlog.release(len(failed))
            with sent.lock:
                sent.latencies.append(took)
                sent.accepted += BATCH - len(failed)
                sent.failed_entries.update(failed)

    workers = [threading.Thread(target=sender, args=(i,), name=f"sender-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    sent.started = time.time()
    go.wait()
    for worker in workers:
        worker.join()


@dataclass
class Arrivals:
    """Events seen at the far end: unique sequence numbers, duplicates, errors, and when the last one came."""

    seen: set[int] = field(default_factory=set)
    duplicates: int = 0
    last: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)  # failed receives, deletes and delete entries
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seqs: list[int], when: float) -> int:
        """Records a received batch; returns how many of its events were new."""
        with self.lock:
            before = len(self.seen)
            self.duplicates += sum(seq in self.seen for seq in seqs)
            self.seen.update(seqs)
            self.last = max(self.last, when)
            return len(self.seen) - before

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] += 1


def drain(
    endpoint: str, queue_url: str, arrivals: Arrivals, backlog: Backlog, done: threading.Event, sent: Sent
) -> None:
    """Receives and deletes until every accepted event came, or none came for DRAIN_QUIET_S after sending."""
    sqs = client("sqs", endpoint)
    quiet_since = time.monotonic()
    while not (done.is_set() and len(arrivals.seen) >= sent.accepted):
        if done.is_set() and time.monotonic() - quiet_since > DRAIN_QUIET_S:
            return
        try:
            answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        except Exception as error:  # counted and shown; a dead server ends the loop DRAIN_QUIET_S later
            arrivals.error(f"ReceiveMessage {type(error).__name__}")
            time.sleep(0.1)
            continue
        messages = answer.get("Messages", [])
        if not messages:
            continue
        backlog.release(arrivals.add([json.loads(m["Body"])["detail"]["seq"] for m in messages], time.time()))
        quiet_since = time.monotonic()
        receipts = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        try:
            failed = sqs.delete_message_batch(QueueUrl=queue_url, Entries=receipts).get("Failed", [])
        except Exception as error:  # the messages come back after their visibility timeout: duplicates
            arrivals.error(f"DeleteMessageBatch {type(error).__name__}")
            continue
        for entry in failed:
            arrivals.error(f"delete entry {entry.get('Code')}")


def make_bus_and_rule(endpoint: str, name: str) -> tuple[str, str]:
    """A custom bus with one rule matching the benchmark's events; returns the bus name and rule ARN."""
    events = client("events", endpoint)
    events.create_event_bus(Name=name)
    rule_arn = events.put_rule(Name=f"{name}-rule", EventBusName=name, EventPattern=json.dumps(PATTERN))[
        "RuleArn"
    ]
    return name, rule_arn


def make_sqs_route(endpoint: str) -> tuple[str, str]:
    """Bus → rule → SQS queue as an app sets it up (queue policy included); returns bus and queue URL."""
    bus, rule_arn = make_bus_and_rule(endpoint, "bench-sqs")
    sqs = client("sqs", endpoint)
    queue_url = sqs.create_queue(QueueName="bench-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    client("events", endpoint).put_targets(
        Rule=f"{bus}-rule", EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}]
    )
    return bus, queue_url


@dataclass
class OneClientRun:
    """One client's sequential PutEvents calls while one thread keeps the queue empty: unqueued latency."""

    calls: int
    first: int  # the sequence number of its first event, past the throughput run's
    sent: Sent
    arrivals: Arrivals

    @property
    def lost(self) -> int:
        return self.sent.accepted - sum(seq >= self.first for seq in self.arrivals.seen)


def run_one_client(endpoint: str, bus: str, queue_url: str, calls: int) -> OneClientRun:
    """`calls` PutEvents calls of BATCH entries one after the other from one thread, one thread draining."""
    sent, arrivals, backlog, done = Sent(), Arrivals(), Backlog(0), threading.Event()
    drainer = threading.Thread(
        target=drain, args=(endpoint, queue_url, arrivals, backlog, done, sent), name="drainer-one-client"
    )
    drainer.start()
    try:
        send_events(endpoint, bus, calls * BATCH, 1, sent, backlog, first=EVENTS)
    finally:
        done.set()
        drainer.join()
    return OneClientRun(calls, EVENTS, sent, arrivals)


@dataclass
class SqsRun:
    sent: Sent
    arrivals: Arrivals
    backlog: Backlog
    server_cpu: float
    client_cpu: float
    one_client: OneClientRun  # run after the throughput run, on the same server, bus, rule and queue

    @property
    def rate(self) -> float:
        took = self.arrivals.last - self.sent.started
        return len(self.arrivals.seen) / took if took > 0 else float("nan")

    @property
    def lost(self) -> int:
        return self.sent.accepted - len(self.arrivals.seen)


def run_sqs(server: Server, one_client_calls: int) -> SqsRun:
    """The throughput run, then `one_client_calls` calls from one client on the same route."""
    bus, queue_url = make_sqs_route(server.endpoint)
    sent, arrivals, backlog, done = Sent(), Arrivals(), Backlog(MAX_BACKLOG), threading.Event()
    drainers = [
        threading.Thread(
            target=drain,
            args=(server.endpoint, queue_url, arrivals, backlog, done, sent),
            name=f"drainer-{i}",
        )
        for i in range(DRAINERS)
    ]
    cpu_before, client_before = tree_cpu(server.process.pid), time.process_time()
    for drainer in drainers:
        drainer.start()
    try:
        send_events(server.endpoint, bus, EVENTS, EVENT_CLIENTS, sent, backlog)
    finally:
        done.set()
        for drainer in drainers:
            drainer.join()
    server_cpu = (tree_cpu(server.process.pid) - cpu_before).total
    client_cpu = time.process_time() - client_before
    one_client = run_one_client(server.endpoint, bus, queue_url, one_client_calls)
    return SqsRun(sent, arrivals, backlog, server_cpu, client_cpu, one_client)


# -- PutEvents → Lambda ------------------------------------------------------------------------------
class TraceFollower(threading.Thread):
    """Reads localcloud's trace of one kind while a benchmark runs, before old records fall off it."""

    def __init__(
        self, endpoint: str, kind: str, since: int, accept: Callable[[dict[str, Any]], None]
    ) -> None:
        super().__init__(name=f"trace-{kind}", daemon=True)
        self.endpoint, self.kind, self.since, self.accept = endpoint, kind, since, accept
        self.previous_last = since
        self.overflowed = False
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.wait(0.2):
                self.poll()
        except BaseException as error:  # re-raised by finish(): a count that silently stopped would lie
            self.error = error

    def finish(self) -> None:
        self.stopping.set()
        self.join()
        if self.error is not None:
            raise BenchError(f"reading the trace failed: {self.error!r}") from self.error
        self.poll()

    def poll(self) -> None:
        answer = http_json("GET", f"{self.endpoint}/_localcloud/trace?since={self.since}&kind={self.kind}")
        records = answer["records"]
        if answer["last"] - self.since > TRACE_KEEP:  # records after `since` may have fallen off
            self.overflowed = True
        for record in records:
            self.accept(record)
        # `last` is read after the records were taken, so jumping to it could skip a record made in
        # between; the previous answer's `last` is safe: every record up to it was there for this read.
        self.since = max(self.since, self.previous_last, *(r["seq"] for r in records))
        self.previous_last = answer["last"]


@dataclass
class Invocations:
    """Async invocations of one function, by outcome, from localcloud's trace."""

    function: str
    ok: set[str] = field(default_factory=set)
    outcomes: Counter[str] = field(default_factory=Counter)
    last_ok: float = 0.0

    def accept(self, record: dict[str, Any]) -> None:
        if record.get("function") != self.function or "outcome" not in record:
            return
        self.outcomes[record["outcome"]] += 1
        if record["outcome"] == "ok":
            self.ok.add(record["request_id"])
            self.last_ok = max(self.last_ok, record["time"])


def make_lambda_route(endpoint: str) -> tuple[str, str]:
    """Bus → rule → a no-op Python function created with a zip; returns the bus and function name."""
    name = "bench-noop"
    bus, rule_arn = make_bus_and_rule(endpoint, "bench-lambda")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = client("iam", endpoint).create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        # A fixed timestamp: the same zip every run, so localcloud unzips it once (by content) and reuses it.
        zipped.writestr(zipfile.ZipInfo("app.py", date_time=(2020, 1, 1, 0, 0, 0)), NOOP_HANDLER)
    lam = client("lambda", endpoint)
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": archive.getvalue()},
        Timeout=30,
    )["FunctionArn"]
    lam.add_permission(
        FunctionName=name,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    client("events", endpoint).put_targets(
        Rule=f"{bus}-rule", EventBusName=bus, Targets=[{"Id": "noop", "Arn": arn}]
    )
    return bus, name


@dataclass
class LambdaRun:
    sent: Sent
    invocations: Invocations
    settled: dict[str, Any]
    trace_overflowed: bool
    server_cpu: float

    @property
    def rate(self) -> float:
        took = self.invocations.last_ok - self.sent.started
        return len(self.invocations.ok) / took if took > 0 else float("nan")

    @property
    def lost(self) -> int:
        return self.sent.accepted - len(self.invocations.ok)


def run_lambda(server: Server) -> LambdaRun:
    bus, function = make_lambda_route(server.endpoint)
    invocations = Invocations(function)
    since = http_json("GET", f"{server.endpoint}/_localcloud/trace?limit=1")["last"]
    follower = TraceFollower(server.endpoint, "lambda", since, invocations.accept)
    cpu_before = tree_cpu(server.process.pid)
    sent = Sent()
    follower.start()
    try:
        send_events(server.endpoint, bus, EVENTS, EVENT_CLIENTS, sent)
        settled = settle(server.endpoint)
    finally:
        follower.finish()
    server_cpu = (tree_cpu(server.process.pid) - cpu_before).total
    return LambdaRun(sent, invocations, settled, follower.overflowed, server_cpu)
