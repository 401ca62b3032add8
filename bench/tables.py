"""The three tables, as markdown like bench/cold_start.py prints, with their targets and verdicts."""

from __future__ import annotations

from collections import Counter

from bench.events import (
    BATCH,
    DRAINERS,
    EVENT_CLIENTS,
    EVENTS,
    MAX_BACKLOG,
    LambdaRun,
    OneClientRun,
    Sent,
    SqsRun,
)
from bench.orders import ORDER_CLIENTS, OrderRun

# Targets (see the tables): localcloud / moto_server event rate, PutEvents p99, CPU per order.
RATE_TARGET = 5.0
P99_TARGET_MS = 50.0
CPU_GROWTH_TARGET = 1.25
CPU_PER_ORDER_TARGET = 0.25
SETTLE_TARGET_S = 90.0

Row = tuple[str, ...]  # metric, first column, second column, ratio, target and verdict
WIDTHS = (46, 16, 16, 7, 26)


def render(title: str, columns: tuple[str, str], rows: list[Row], notes: list[str]) -> str:
    """A markdown table as bench/cold_start.py prints one, with notes (problems, footnotes) under it."""

    def line(cells: tuple[str, ...]) -> str:
        return (
            "| "
            + " | ".join(
                f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                for i, (c, w) in enumerate(zip(cells, WIDTHS, strict=True))
            )
            + " |"
        )

    rule = "|" + "|".join("-" * (w + 2) for w in WIDTHS) + "|"
    return "\n".join([title, line(("metric", *columns, "ratio", "target")), rule, *map(line, rows), *notes])


def verdict(target: str, met: bool) -> str:
    return f"{target}: {'met' if met else 'MISSED'}"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def errors(sent: Sent) -> Counter[str]:
    return Counter({f"entry {k}": n for k, n in sent.failed_entries.items()}) + Counter(
        {f"call {k}": n for k, n in sent.call_errors.items()}
    )


def error_notes(name: str, found: Counter[str]) -> list[str]:
    return [f"! {name}: " + ", ".join(f"{n} x {what}" for what, n in found.most_common())] if found else []


def one_client_rows(local: OneClientRun, moto: OneClientRun) -> list[Row]:
    """The PutEvents latency the target is about: one client, nothing queued; ratio localcloud / moto."""
    mark = " *" if moto.calls != local.calls else ""
    rows: list[Row] = []
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        ours, theirs = percentile(local.sent.latencies, q), percentile(moto.sent.latencies, q)
        target = verdict(f"<= {P99_TARGET_MS:g} ms", ours * 1000 <= P99_TARGET_MS) if q == 0.99 else ""
        rows.append(
            (f"PutEvents ({BATCH} entries), one client, {name}", ms(ours), ms(theirs) + mark,
             f"{ratio(ours, theirs):.3f}", target)
        )  # fmt: skip
    return rows


def saturated_rows(local: Sent, other: Sent | None) -> list[Row]:
    """PutEvents latency while the throughput run saturates the server: mostly queueing, so no target."""
    return [
        (f"PutEvents {name}, under the throughput run", ms(percentile(local.latencies, q)),
         ms(percentile(other.latencies, q)) if other else "", "", "")
        for name, q in (("p50", 0.5), ("p99", 0.99))
    ]  # fmt: skip


def sqs_table(local: SqsRun, moto: SqsRun) -> str:
    speedup = ratio(local.rate, moto.rate)
    both = (local, moto)
    rows: list[Row] = [
        ("events/s (first put → last received)", f"{local.rate:.0f}", f"{moto.rate:.0f}", f"{speedup:.2f}",
         verdict(f">= {RATE_TARGET:g}x", speedup >= RATE_TARGET)),
        ("sent", *(str(r.sent.accepted) for r in both), "", ""),
        ("received", *(str(len(r.arrivals.seen)) for r in both), "", ""),
        ("lost", *(str(r.lost) for r in both), "", verdict("0", local.lost == 0 and moto.lost == 0)),
        ("duplicates received", *(str(r.arrivals.duplicates) for r in both), "", ""),
        ("failed PutEvents entries and calls", *(str(sum(errors(r.sent).values())) for r in both), "", ""),
        ("failed receives and deletes", *(str(sum(r.arrivals.errors.values())) for r in both), "", ""),
        ("backlog at its highest (sent, not received)", *(str(r.backlog.highest) for r in both), "", ""),
        *one_client_rows(local.one_client, moto.one_client),
        *saturated_rows(local.sent, moto.sent),
        ("server CPU s (process tree)", *(f"{r.server_cpu:.1f}" for r in both),
         f"{ratio(local.server_cpu, moto.server_cpu):.2f}", ""),
        ("benchmark client CPU s (all its threads)", *(f"{r.client_cpu:.1f}" for r in both), "", ""),
    ]  # fmt: skip
    notes = []
    for name, run in (("localcloud", local), ("moto_server", moto)):
        notes += error_notes(f"{name} PutEvents", errors(run.sent))
        notes += error_notes(f"{name} drain", run.arrivals.errors)
        if run.backlog.stalls:
            notes.append(f"! {name}: senders stopped waiting for room {run.backlog.stalls} times")
        notes += error_notes(f"{name} one client PutEvents", errors(run.one_client.sent))
        notes += error_notes(f"{name} one client drain", run.one_client.arrivals.errors)
        if run.one_client.lost:
            notes.append(f"! {name} one client: {run.one_client.lost} events lost")
    notes.append(one_client_note(local.one_client, moto.one_client))
    title = (
        f"PutEvents → rule → SQS: {EVENTS} events, {BATCH} entries per call from {EVENT_CLIENTS} threads, "
        f"{DRAINERS} draining threads, at most {MAX_BACKLOG or 'any number of'} events sent and not received "
        "yet (localcloud: empty assembly; bus, rule and queue created through the API)"
    )
    return render(title, ("localcloud", "moto_server"), rows, notes)


def one_client_note(local: OneClientRun, moto: OneClientRun) -> str:
    mark = "*" if moto.calls != local.calls else "one client:"
    note = (
        f"{mark} after the throughput run, on the same server, bus, rule and queue: one thread putting "
        f"{local.calls} calls of {BATCH} entries one after the other while one thread keeps the queue empty"
    )
    if moto.calls != local.calls:
        note += f"; moto_server, being slow, {moto.calls} calls"
        if round(0.99 * (moto.calls - 1)) == moto.calls - 1:  # see percentile()
            note += " (their p99 is their slowest call)"
    return note + "."


def lambda_table(run: LambdaRun, moto: SqsRun) -> str:
    speedup = ratio(run.rate, moto.rate)
    others = ", ".join(f"{n} {o}" for o, n in run.invocations.outcomes.items() if o != "ok") or "none"
    rows: list[Row] = [
        ("invocations completed/s (first put → last ok)", f"{run.rate:.0f}", f"{moto.rate:.0f} *",
         f"{speedup:.2f}", verdict(f">= {RATE_TARGET:g}x", speedup >= RATE_TARGET)),
        ("sent", str(run.sent.accepted), "", "", ""),
        ("completed (outcome ok)", str(len(run.invocations.ok)), "", "", ""),
        ("lost", str(run.lost), "", "", verdict("0", run.lost == 0)),
        ("other invocation outcomes", others, "", "", ""),
        ("failed PutEvents entries and calls", str(sum(errors(run.sent).values())), "", "", ""),
        ("settled", str(bool(run.settled.get("settled"))), "", "", ""),
        *saturated_rows(run.sent, None),
        ("server CPU s (process tree)", f"{run.server_cpu:.1f}", "", "", ""),
    ]  # fmt: skip
    notes = error_notes("localcloud PutEvents", errors(run.sent))
    if run.trace_overflowed:
        notes.append("! the trace dropped records before they were read: the completed count may be short")
    if not run.settled.get("settled"):
        notes.append(f"! localcloud did not settle: {run.settled}")
    notes.append(
        "* moto_server cannot deliver to a Lambda target (moto.events Rule.send_to_targets raises "
        "NotImplementedError): its figure is its PutEvents → SQS rate from the table above."
    )
    title = (
        f"PutEvents → rule → no-op Lambda (created through the Lambda API, a zip with app.py): "
        f"{EVENTS} events, {BATCH} entries per call from {EVENT_CLIENTS} threads; completions counted in "
        "localcloud's trace"
    )
    return render(title, ("localcloud", "moto_server"), rows, notes)


def statuses(run: OrderRun) -> str:
    return " ".join(f"{status}={n}" for status, n in run.statuses.most_common()) or "none"


def completions(run: OrderRun) -> str:
    return "n/a (trace full)" if run.completed_latencies is None else str(len(run.completed_latencies))


def latency(run: OrderRun, q: float) -> str:
    if run.completed_latencies is None:
        return "n/a (trace full)"
    return f"{percentile(run.completed_latencies, q):.2f} s" if run.completed_latencies else "none completed"


def orders_table(big: OrderRun, small: OrderRun) -> str:
    growth = ratio(big.cpu_per_order, small.cpu_per_order)
    completed = big.statuses.get("COMPLETED", 0) == big.orders
    on_time = bool(big.settled.get("settled")) and big.wall <= SETTLE_TARGET_S
    both = (big, small)
    rows: list[Row] = [
        ("first POST → settled", *(f"{r.wall:.1f} s" for r in both), "",
         verdict(f"<= {SETTLE_TARGET_S:g} s", on_time)),
        ("orders/s (first POST → settled)", *(f"{r.orders / r.wall:.1f}" for r in both), "", ""),
        ("POST /orders answers", *(" ".join(f"{k}={n}" for k, n in r.posts.items()) for r in both), "", ""),
        ("final statuses", *(statuses(r) for r in both), "", verdict(f"{big.orders} COMPLETED", completed)),
        ("OrderCompleted events in the trace", *(completions(r) for r in both), "", ""),
        ("POST → OrderCompleted p50", *(latency(r, 0.5) for r in both), "", ""),
        ("POST → OrderCompleted p99", *(latency(r, 0.99) for r in both), "", ""),
        ("CPU s per order, whole process tree", *(f"{r.cpu_per_order:.3f}" for r in both), f"{growth:.2f}",
         verdict(f"<= {CPU_GROWTH_TARGET:g}x", growth <= CPU_GROWTH_TARGET)),
        ("", "", "", "", verdict(f"{big.orders}: <= {CPU_PER_ORDER_TARGET:g} s",
                                 big.cpu_per_order <= CPU_PER_ORDER_TARGET)),
        ("  of which localcloud's own process", *(f"{r.cpu.root / r.orders:.3f}" for r in both), "", ""),
        ("  of which zygote + Lambda workers", *(f"{r.cpu.children / r.orders:.3f}" for r in both), "", ""),
        ("CPU of the tree while idle before, in cores", *(f"{r.idle_cores:.2f}" for r in both), "", ""),
    ]  # fmt: skip
    notes = [
        f"! {r.orders} orders: localcloud did not settle: {r.settled}"
        for r in both
        if not r.settled.get("settled")
    ]
    title = (
        f"Order bursts through the app's signed REST API from {ORDER_CLIENTS} clients, each on a fresh "
        "localcloud (the app's cdk.out, fast mode) warmed up by one order; CPU of localcloud and all its "
        "descendants"
    )
    return render(title, (f"{big.orders} orders", f"{small.orders} orders"), rows, notes)
