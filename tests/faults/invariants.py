"""The invariants a run must keep, one small function each: (run, snapshot) -> the offenders, described.

An empty list means the invariant holds. Each description names the order, trial, queue or place at
fault, so a failure says what to look at (the seed reproduces what was sent).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.faults.plan import CATALOGUE, FINAL, Run
from tests.faults.snapshot import Snapshot

ATTENTION_ALARM = re.compile(r"attention|stuck|sweep|compensation", re.IGNORECASE)
ENDED_TRIAL = {"EXPIRED", "FAILED", "DELETED", "CANCELLED"}
GONE_ENVIRONMENT = {"DELETED", "RETIRED", "FAILED", "DELETING"}


# -- what the invariants and the table share -------------------------------------------------------
def outcome(order: Any, snapshot: Snapshot) -> str:
    """Where one sent order ended: a final status, refused (4xx at the API), or what went wrong."""
    if 400 <= order.status < 500:
        return "REFUSED"
    if order.status != 202 or not order.order_id:
        return f"NO ANSWER ({order.status})"
    stored = snapshot.orders.get(order.order_id)
    if stored is None:
        return "NOT STORED"
    return str(stored.get("status"))


def outcomes(run: Run, snapshot: Snapshot) -> Counter[str]:
    return Counter(outcome(order, snapshot) for order in run.orders)


def charges(snapshot: Snapshot) -> dict[str, list[dict[str, Any]]]:
    """Payment records that took money (a charge id), by order."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in snapshot.payments:
        if item.get("chargeId"):
            found[str(item.get("orderId"))].append(item)
    return found


def refunded(item: dict[str, Any]) -> bool:
    return bool(item.get("refundId")) or item.get("status") == "REFUNDED"


def ledger_entries(snapshot: Snapshot) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(charge entries, refund entries) by order: `CHARGE#<id>`/`REFUND#<id>`, or the older `<id>#SALE`."""
    charge, refund = {}, {}
    for entry in snapshot.ledger:
        entry_id = str(entry.get("entryId", ""))
        head, _, tail = entry_id.partition("#")
        if head in {"CHARGE", "REFUND"}:
            (charge if head == "CHARGE" else refund)[tail] = entry
        elif tail in {"SALE", "REFUND"}:
            (charge if tail == "SALE" else refund)[head] = entry
    return charge, refund


def state_machine_of(execution_arn: Any) -> str | None:
    """arn:aws:states:<region>:<account>:execution:<machine>:<name> -> the state machine's ARN."""
    parts = str(execution_arn or "").split(":")
    if len(parts) < 8 or parts[5] != "execution":
        return None
    return ":".join([*parts[:5], "stateMachine", parts[6]])


def live_trial(snapshot: Snapshot, trial_id: Any) -> bool:
    """The trial's row is there and its trial has not ended (TTL removes rows up to days late)."""
    trial = snapshot.trials.get(str(trial_id))
    return trial is not None and trial.get("status") not in ENDED_TRIAL


def parked_text(snapshot: Snapshot) -> str:
    return "\n".join(body for q in snapshot.queues.values() if q.is_dlq for body in q.bodies)


# -- the invariants ----------------------------------------------------------------------------------
def every_order_accounted(run: Run, snapshot: Snapshot) -> list[str]:
    """sent = completed + failed + rejected + parked: each sent order ended in exactly one of them."""
    ends = {"COMPLETED", "FAILED", "REJECTED", "REFUSED", "NEEDS_ATTENTION"}
    offenders = [
        f"order {o.key} ({o.intent}, id {o.order_id}): {outcome(o, snapshot)}"
        for o in run.orders
        if outcome(o, snapshot) not in ends
    ]
    offenders += [
        f"order {o.key} ({o.intent}) refused with {o.status} though the catalogue has its SKU"
        for o in run.orders
        if outcome(o, snapshot) == "REFUSED" and o.intent != "unknown-sku"
    ]
    sent_ids = {o.order_id for o in run.orders}
    offenders += [
        f"order {i} is in the table but no client placed it" for i in snapshot.orders if i not in sent_ids
    ]
    return offenders


def no_order_unfinished(run: Run, snapshot: Snapshot) -> list[str]:
    """0 orders not in a final state (COMPLETED, FAILED, REJECTED, NEEDS_ATTENTION)."""
    return [
        f"order {i} is {o.get('status')} (updated {o.get('updatedAt')})"
        for i, o in sorted(snapshot.orders.items())
        if o.get("status") not in FINAL
    ]


def parked_items_alarmed(run: Run, snapshot: Snapshot) -> list[str]:
    """Every message parked in a DLQ, and every NEEDS_ATTENTION order, has an alarm in ALARM."""
    offenders = []
    for queue in sorted(snapshot.queues.values(), key=lambda q: q.name):
        if not queue.is_dlq or queue.depth == 0:
            continue
        alarms = snapshot.alarms_on(queue.name)
        if not alarms:
            offenders.append(f"{queue.depth} message(s) parked in {queue.name}, which no alarm watches")
        elif not any("ALARM" in (a.state, a.reported) for a in alarms):
            offenders.append(
                f"{queue.depth} message(s) parked in {queue.name}; its alarm(s) are not in ALARM"
            )
    attention = [i for i, o in snapshot.orders.items() if o.get("status") == "NEEDS_ATTENTION"]
    attention_alarms = [a for a in snapshot.alarms if ATTENTION_ALARM.search(a.name + " " + a.watches)]
    for order_id in sorted(attention):
        machine = state_machine_of(snapshot.orders[order_id].get("executionArn"))
        watching = attention_alarms + [
            a for a in snapshot.alarms if a.dimensions.get("StateMachineArn") == machine
        ]
        if not any("ALARM" in (a.state, a.reported) for a in watching):
            offenders.append(
                f"order {order_id} NEEDS_ATTENTION ({snapshot.orders[order_id].get('reason')}): no alarm in "
                f"ALARM among {len(watching)} (attention alarms, its state machine's alarms)"
            )
    return offenders


def one_charge_per_order(run: Run, snapshot: Snapshot) -> list[str]:
    """At most one charge per order; refunds only against charges; money kept only for completed orders."""
    offenders = []
    by_order = charges(snapshot)
    for order_id, found in sorted(by_order.items()):
        if len(found) > 1:
            offenders.append(f"order {order_id} charged {len(found)} times: {[c['chargeId'] for c in found]}")
    for item in snapshot.payments:
        if item.get("refundId") and not item.get("chargeId"):
            offenders.append(f"order {item.get('orderId')}: refund {item['refundId']} with no charge")
    for order_id, order in sorted(snapshot.orders.items()):
        kept = [c for c in by_order.get(order_id, []) if not refunded(c)]
        status = order.get("status")
        if status == "COMPLETED" and len(kept) != 1:
            offenders.append(f"order {order_id} COMPLETED with {len(kept)} charge(s) kept")
        if status in {"FAILED", "REJECTED"} and kept:
            offenders.append(f"order {order_id} {status} but charge {kept[0]['chargeId']} was never refunded")
    return offenders


def ledger_balances(run: Run, snapshot: Snapshot) -> list[str]:
    """The ledger has a CHARGE for each charge and a REFUND for each refund, amounts equal; nothing else.

    A missing entry is excused when the event that would have written it is parked in a DLQ (its order
    id is in a parked message): that is work waiting for an operator, not money unaccounted.
    """
    offenders = []
    by_order = charges(snapshot)
    charge_entries, refund_entries = ledger_entries(snapshot)
    parked = parked_text(snapshot)
    for order_id, found in sorted(by_order.items()):
        paid = found[0]
        entry = charge_entries.get(order_id)
        if entry is None and order_id not in parked:
            offenders.append(
                f"order {order_id}: charged {paid.get('amountCents')} but no CHARGE in the ledger"
            )
        elif entry is not None and entry.get("amountCents") != paid.get("amountCents"):
            offenders.append(
                f"order {order_id}: ledger CHARGE {entry.get('amountCents')} "
                f"!= payment {paid.get('amountCents')}"
            )
        if refunded(paid) and order_id not in refund_entries and order_id not in parked:
            offenders.append(f"order {order_id}: refunded but no REFUND in the ledger")
    for order_id in sorted(charge_entries):
        if order_id not in by_order:
            offenders.append(f"ledger CHARGE for order {order_id}, which the payments table never charged")
    for order_id in sorted(refund_entries):
        if order_id not in charge_entries:
            offenders.append(f"ledger REFUND for order {order_id} with no CHARGE entry")
        elif not any(refunded(c) for c in by_order.get(order_id, [])):
            offenders.append(f"ledger REFUND for order {order_id}, which the payments table never refunded")
    return offenders


def stock_conserved(run: Run, snapshot: Snapshot) -> list[str]:
    """initial = available + reserved + sold, per SKU."""
    offenders = []
    for item in CATALOGUE:
        stock = snapshot.stock.get(item.sku)
        if stock is None:
            offenders.append(f"{item.sku}: the stock item is gone")
            continue
        total = sum(int(stock.get(k, 0)) for k in ("available", "reserved", "sold"))
        if total != item.initial or min(int(stock.get(k, 0)) for k in ("available", "reserved", "sold")) < 0:
            offenders.append(
                f"{item.sku}: initial {item.initial} != available {stock.get('available')} + reserved "
                f"{stock.get('reserved')} + sold {stock.get('sold', 0)}"
            )
    return offenders


def stock_settled(run: Run, snapshot: Snapshot) -> list[str]:
    """Once every order is final, sold = the quantities of completed orders and nothing stays reserved,
    but what NEEDS_ATTENTION orders hold (an operator releases or ships it)."""
    sold: Counter[str] = Counter()
    held: Counter[str] = Counter()
    for order in snapshot.orders.values():
        status = order.get("status")
        for line in order.get("lines", []) if status in {"COMPLETED", "NEEDS_ATTENTION"} else []:
            (sold if status == "COMPLETED" else held)[line["sku"]] += int(line["quantity"])
    offenders = []
    for item in CATALOGUE:
        stock = snapshot.stock.get(item.sku, {})
        reserved, counted = int(stock.get("reserved", 0)), int(stock.get("sold", 0))
        if reserved > held[item.sku]:
            offenders.append(
                f"{item.sku}: {reserved} still reserved, NEEDS_ATTENTION orders hold {held[item.sku]}"
            )
        if not sold[item.sku] <= counted <= sold[item.sku] + held[item.sku]:
            offenders.append(f"{item.sku}: sold {counted} but completed orders hold {sold[item.sku]}")
    return offenders


def no_environment_claimed_twice(run: Run, snapshot: Snapshot) -> list[str]:
    """No environment serves two trials, and no trial holds two environments."""
    by_environment: dict[str, set[str]] = defaultdict(set)
    by_trial: dict[str, set[str]] = defaultdict(set)
    for trial_id, trial in snapshot.trials.items():
        if trial.get("environmentId"):
            by_environment[trial["environmentId"]].add(trial_id)
            by_trial[trial_id].add(trial["environmentId"])
    for environment in snapshot.pool:
        if environment.get("trialId") and environment.get("status") == "CLAIMED":
            by_environment[environment["environmentId"]].add(environment["trialId"])
            by_trial[environment["trialId"]].add(environment["environmentId"])
    offenders = [
        f"environment {e} claimed by trials {sorted(t)}"
        for e, t in sorted(by_environment.items())
        if len(t) > 1
    ]
    offenders += [
        f"trial {t} holds environments {sorted(e)}" for t, e in sorted(by_trial.items()) if len(e) > 1
    ]
    return offenders


def no_stack_leaked(run: Run, snapshot: Snapshot) -> list[str]:
    """Every trial-environment stack belongs to a warm environment, or one claimed by a live trial."""
    pool = {e.get("stackName"): e for e in snapshot.pool}
    offenders = []
    for name, status in sorted(snapshot.trial_stacks.items()):
        environment = pool.get(name)
        if environment is None:
            offenders.append(f"stack {name} ({status}) belongs to no pool environment")
        elif environment.get("status") in GONE_ENVIRONMENT:
            offenders.append(
                f"stack {name} ({status}) outlived its environment ({environment.get('status')})"
            )
        elif environment.get("status") == "CLAIMED" and not live_trial(snapshot, environment.get("trialId")):
            offenders.append(
                f"stack {name} ({status}) still up for trial {environment.get('trialId')}, which is gone"
            )
    for environment in snapshot.pool:
        if environment.get("status") == "WARM" and environment.get("stackName") not in snapshot.trial_stacks:
            offenders.append(f"environment {environment.get('environmentId')} is WARM without a stack")
    return offenders


def forged_events_refused(run: Run, snapshot: Snapshot) -> list[str]:
    """A forged OrderCompleted/PaymentCharged changes no order and no ledger, and is parked; a forged
    TrialExpired for a live trial deletes nothing, and is parked."""
    offenders = []
    charge_entries, _ = ledger_entries(snapshot)
    parked = parked_text(snapshot)
    for order_id in run.forged_orders:
        order = snapshot.orders.get(order_id, {})
        if order.get("status") == "COMPLETED":
            offenders.append(f"forged OrderCompleted made order {order_id} COMPLETED")
        if order_id in charge_entries and order_id not in charges(snapshot):
            offenders.append(f"forged events wrote a ledger CHARGE for order {order_id}")
        if order_id not in parked:
            offenders.append(
                f"forged OrderCompleted for order {order_id} is in no DLQ (accepted or dropped unseen)"
            )
    for trial_id in run.forged_trials:
        trial = snapshot.trials.get(trial_id)
        if trial is None:
            offenders.append(f"forged TrialExpired removed live trial {trial_id}")
            continue
        stacks = [
            e.get("stackName") for e in snapshot.pool if e.get("environmentId") == trial.get("environmentId")
        ]
        if not any(s in snapshot.trial_stacks for s in stacks):
            offenders.append(f"forged TrialExpired deleted the stack of live trial {trial_id}")
        if trial_id not in parked:
            offenders.append(f"forged TrialExpired for trial {trial_id} is in no DLQ")
    return offenders


def replays_change_nothing(run: Run, snapshot: Snapshot) -> list[str]:
    """An OrderPlaced put again for a finished order (a replay, a late duplicate) changes nothing."""
    return [
        f"order {order_id} was {before} when its OrderPlaced was replayed, and is {after} now"
        for order_id, before in sorted(run.replayed.items())
        if (after := snapshot.orders.get(order_id, {}).get("status")) != before
    ]


def no_token_leaked(run: Run, snapshot: Snapshot) -> list[str]:
    """0 payment tokens in any log group, bus event (the archive), DLQ or queue message, execution
    history, object, or any table other than PaymentTokens."""
    return [
        f"{len(tokens)} token(s) in {where}, e.g. …{sorted(tokens)[0][-6:]}"
        for where, tokens in sorted(snapshot.leaks.items())
    ]


@dataclass(frozen=True)
class Invariant:
    name: str
    check: Callable[[Run, Snapshot], list[str]]

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip().splitlines()[0]


INVARIANTS = [
    Invariant(f.__name__, f)
    for f in (
        every_order_accounted,
        no_order_unfinished,
        parked_items_alarmed,
        one_charge_per_order,
        ledger_balances,
        stock_conserved,
        stock_settled,
        no_environment_claimed_twice,
        no_stack_leaked,
        forged_events_refused,
        replays_change_nothing,
        no_token_leaked,
    )
]
