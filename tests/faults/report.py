"""The table a run prints: counts of what was sent and where it ended, then each invariant's verdict."""

from __future__ import annotations

from collections import Counter

from tests.faults.invariants import INVARIANTS, charges, ledger_entries, outcomes, refunded
from tests.faults.plan import CATALOGUE, Run
from tests.faults.snapshot import Snapshot


def rows(run: Run, snapshot: Snapshot) -> list[tuple[str, str]]:
    ends = outcomes(run, snapshot)
    paid = charges(snapshot)
    charge_entries, refund_entries = ledger_entries(snapshot)
    hits = Counter()
    for fault in run.faults:
        hits[f"{fault['effect']} ({fault['kind']})"] += int(fault.get("hits", 0))
    final = {"COMPLETED", "FAILED", "REJECTED", "REFUSED", "NEEDS_ATTENTION"}
    table = [
        ("run", f"{run.scale.name}: seed {run.scale.seed}, {run.seconds:.0f} s, body {run.body_style}"),
        ("orders sent", str(len(run.orders))),
        ("  completed", str(ends["COMPLETED"])),
        ("  failed", str(ends["FAILED"])),
        (
            "  rejected (REJECTED + refused at the API)",
            f"{ends['REJECTED'] + ends['REFUSED']} ({ends['REJECTED']} + {ends['REFUSED']})",
        ),
        ("  parked (NEEDS_ATTENTION)", str(ends["NEEDS_ATTENTION"])),
        ("  anything else", ", ".join(f"{k}: {v}" for k, v in sorted(ends.items()) if k not in final) or "0"),
        ("POST attempts (retries of 5xx/429)", str(sum(o.attempts for o in run.orders))),
        (
            "charges / refunded",
            f"{sum(len(v) for v in paid.values())} / {sum(refunded(c) for v in paid.values() for c in v)}",
        ),
        (
            "ledger entries: charge / refund",
            f"{len(charge_entries)} / {len(refund_entries)} (of {len(snapshot.ledger)} items)",
        ),
    ]
    for item in CATALOGUE:
        stock = snapshot.stock.get(item.sku, {})
        table.append(
            (
                f"stock {item.sku}",
                f"initial {item.initial} = available {stock.get('available')} + "
                f"reserved {stock.get('reserved')} + sold {stock.get('sold', '-')}",
            )
        )
    trial_status = Counter(str(t.get("status")) for t in snapshot.trials.values())
    table += [
        ("trials sent / accepted", f"{len(run.trials)} / {sum(t.trial_id is not None for t in run.trials)}"),
        ("trials in the table", ", ".join(f"{k}: {v}" for k, v in sorted(trial_status.items())) or "0"),
        (
            "  expired on purpose / gone",
            f"{sum(t.expire for t in run.trials)} / "
            f"{sum(1 for t in run.trials if t.trial_id and t.trial_id not in snapshot.trials)}",
        ),
        (
            "environments",
            ", ".join(
                f"{k}: {v}" for k, v in sorted(Counter(str(e.get("status")) for e in snapshot.pool).items())
            )
            or "0",
        ),
        (
            "trial stacks up",
            ", ".join(f"{k}: {v}" for k, v in sorted(Counter(snapshot.trial_stacks.values()).items())) or "0",
        ),
    ]
    for queue in sorted(snapshot.queues.values(), key=lambda q: q.name):
        if queue.is_dlq and queue.depth:
            states = ",".join(f"{a.state}" for a in snapshot.alarms_on(queue.name)) or "no alarm"
            table.append((f"DLQ {short(queue.name)}", f"{queue.depth} (alarm: {states})"))
    busy = [q for q in snapshot.queues.values() if not q.is_dlq and q.depth]
    table.append(("other queues not empty", ", ".join(f"{short(q.name)}: {q.depth}" for q in busy) or "none"))
    alarm_states = Counter(a.state for a in snapshot.alarms)
    table += [
        (
            "alarms in ALARM (evaluated by the suite*)",
            f"{alarm_states['ALARM']} of {len(snapshot.alarms)}; "
            f"not evaluated: {alarm_states['not evaluated']}",
        ),
        ("  in ALARM", ", ".join(short(a.name) for a in snapshot.alarms if a.state == "ALARM") or "none"),
        (
            "  not evaluated",
            ", ".join(f"{short(a.name)} ({a.watches})" for a in snapshot.alarms if a.state == "not evaluated")
            or "none",
        ),
        (
            "alarms CloudWatch itself reports in ALARM",
            str(sum(a.reported == "ALARM" for a in snapshot.alarms)),
        ),
        ("faults hit", ", ".join(f"{k}: {v}" for k, v in sorted(hits.items())) or "none"),
        ("poison messages / malformed entries", f"{run.poison_messages} / {run.malformed_entries}"),
        (
            "OrderPlaced replayed / forged orders / forged trials",
            f"{len(run.replayed)} / {len(run.forged_orders)} / {len(run.forged_trials)}",
        ),
        ("stuck orders aged past their deadline", str(len(run.aged))),
        ("schedules fired", "; ".join(short(s) for s in run.schedules_fired) or "no scheduled rule"),
        ("settled", "; ".join(run.settled)),
        ("token scan read", ", ".join(f"{k}: {v}" for k, v in sorted(snapshot.scanned.items()))),
        (
            "token leaks",
            ", ".join(f"{where}: {len(t)}" for where, t in sorted(snapshot.leaks.items())) or "none",
        ),
    ]
    table += [("note", note) for note in run.notes]
    return table


def short(name: str, width: int = 60) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def render(run: Run, snapshot: Snapshot, verdicts: dict[str, list[str]]) -> str:
    table = rows(run, snapshot)
    width = max(len(k) for k, _ in table)
    lines = [f"== fault suite ({run.scale.name}) " + "=" * 60]
    lines += [f"{k.ljust(width)}  {v}" for k, v in table]
    lines.append(
        "* localcloud creates alarms but does not evaluate them: the suite computes each alarm's metric"
    )
    lines.append(
        "  (queue depth, executions by status, rule DLQ sends, EMF metrics in the logs) against its threshold"
    )
    lines.append("-- invariants " + "-" * 60)
    for invariant in INVARIANTS:
        offenders = verdicts[invariant.name]
        verdict = "holds" if not offenders else f"BROKEN ({len(offenders)})"
        lines.append(f"{invariant.name.ljust(30)} {verdict.ljust(12)} {invariant.doc}")
        lines += [f"    - {o}" for o in offenders[:8]]
        if len(offenders) > 8:
            lines.append(f"    … and {len(offenders) - 8} more")
    return "\n".join(lines)
