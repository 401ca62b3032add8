"""`make redrive ARGS="list"` / `ARGS="redrive --queue payment --error Poison --rate 5 --dry-run"`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from tools.redrive import messages
from tools.redrive.discovery import discover, select
from tools.redrive.movers import Options, Outcome, Redriver, describe
from tools.redrive.records import KINDS, error_counts, oldest_age

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_APP_NAME = "EventDriven"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    session = boto3.session.Session(region_name=args.region)  # AWS_ENDPOINT_URL points it at localcloud
    try:
        dlqs = discover(session.client, args.app)
    except (ClientError, BotoCoreError) as error:
        print(f"redrive: cannot list the app's DLQs: {error}", file=sys.stderr)
        return 2
    chosen = select(dlqs, args.queue)
    if not chosen:
        names = "\n  ".join(f"{dlq.name} ({dlq.kind})" for dlq in dlqs) or "(none)"
        print(
            f"redrive: no DLQ of {args.app} matches --queue {args.queue!r}; the DLQs are:\n  {names}",
            file=sys.stderr,
        )
        return 2
    if args.command == "list":
        return _list(session.client("sqs"), chosen, limit=args.limit)
    options = Options(
        error=args.error, rate=args.rate, dry_run=args.dry_run, limit=args.limit, wait=args.wait
    )
    events = _RedriveEvents(session, args.app, args.role_arn)
    redriver = Redriver(session.client("sqs"), session.client("lambda"), events, options)
    if args.dry_run:
        print("dry run: nothing is moved or deleted")
    totals = {"moved": 0, "skipped": 0, "left": 0, "failed": 0}
    empty = 0
    for dlq in chosen:
        try:
            outcome = redriver.redrive(dlq)
        except (ClientError, BotoCoreError) as error:  # e.g. no permission on this queue: say so, go on
            outcome = Outcome(dlq, failures=[f"{type(error).__name__}: {error}"])
        if not (outcome.moved or outcome.skipped or outcome.left or outcome.failed or outcome.notes):
            empty += 1
            continue
        print("\n".join(describe(outcome, dry_run=args.dry_run)))
        for key in totals:
            totals[key] += getattr(outcome, key)
    verb = "would move" if args.dry_run else "moved"
    print(
        f"{len(chosen)} DLQ(s), {empty} empty: {verb} {totals['moved']}, "
        f"skipped {totals['skipped']} by filter, left {totals['left']}, failed {totals['failed']}"
    )
    return 1 if totals["failed"] else 0


def _list(sqs: Any, dlqs: list[Any], *, limit: int) -> int:
    """Each DLQ, its kind, depth, oldest message's age and the errors inside; the messages stay parked."""
    read = 0
    total = 0
    for dlq in dlqs:
        print(f"{dlq.name}  [{dlq.kind}] {dlq.describe()}")
        visible, in_flight = messages.depth(sqs, dlq.url)
        total += visible + in_flight
        if not visible:
            print("  depth 0" + (f" ({in_flight} in flight)" if in_flight else ""))
            continue
        parked = messages.read(sqs, dlq.url, limit=limit)
        read += len(parked)
        try:
            age = oldest_age(parked, time.time())
            line = f"  depth {visible}" + (f" ({in_flight} in flight)" if in_flight else "")
            print(line + (f", oldest {_age(age)}" if age is not None else ""))
            for error, count in error_counts(dlq.kind, parked):
                print(f"  {count:>5} x {error}")
        finally:
            messages.restore(sqs, dlq.url, parked)
    print(f"{len(dlqs)} DLQ(s), {total} message(s) parked.")
    if read:
        print(
            f"(read {read} message(s) to show their errors: each was hidden at most "
            f"{messages.HIDE_SECONDS} s and made visible again; their ApproximateReceiveCount went up "
            "by one, which no DLQ acts on)"
        )
    return 0


class _RedriveEvents:
    """EventBridge for putting rule DLQ entries back, made on first use: as the app's redrive role if found.

    The bus lets only the producing stacks' roles, and the redrive role, put the app's own sources
    (myapp.orders, myapp.payments, OnlineTrial); the role is found under the IAM path /<app>/redrive/
    (or named with --role-arn). Without it, entries are put with the caller's own credentials.
    """

    def __init__(self, session: Any, app: str, role_arn: str | None) -> None:
        self._session, self._app, self._role_arn = session, app, role_arn
        self._client: Any = None

    def put_events(self, **params: Any) -> Any:
        if self._client is None:
            self._client = self._make()
        return self._client.put_events(**params)

    def _make(self) -> Any:
        session, role_arn = self._session, self._role_arn
        try:
            if role_arn is None:
                roles = (
                    session.client("iam").list_roles(PathPrefix=f"/{self._app}/redrive/").get("Roles") or []
                )
                if len(roles) != 1:
                    print(
                        f"note: {len(roles)} redrive role(s) under /{self._app}/redrive/: putting "
                        "events back with your own credentials (the bus refuses the app's produced "
                        "sources from anyone but their producers and that role)"
                    )
                    return session.client("events")
                role_arn = str(roles[0]["Arn"])
            credentials = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="redrive")
        except (ClientError, BotoCoreError) as error:
            print(
                f"note: cannot use the redrive role ({error}): putting events back with your own credentials"
            )
            return session.client("events")
        print(f"putting rule DLQ events back as {role_arn}")
        keys = credentials["Credentials"]
        return session.client(
            "events",
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
        )


def _age(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def _app_name() -> str:
    """The stacks' name prefix: appName from cdk.json, as the CDK app reads it."""
    try:
        return str(json.loads((ROOT / "cdk.json").read_text())["context"].get("appName", DEFAULT_APP_NAME))
    except (OSError, ValueError, KeyError):
        return DEFAULT_APP_NAME


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redrive",
        description="Lists the app's dead-letter queues and returns parked events where they came from. "
        "Set AWS_ENDPOINT_URL=http://127.0.0.1:4566 for localcloud.",
    )
    parser.add_argument("--app", default=_app_name(), help="the stacks' name prefix (appName in cdk.json)")
    parser.add_argument("--region", default=None, help="AWS region (default: your AWS configuration's)")
    parser.add_argument(
        "--queue",
        default=None,
        help=f"one DLQ: a kind ({', '.join(KINDS)}), part of its name or of its source's name; default all",
    )
    parser.add_argument(
        "--limit", type=_count, default=1000, help="most messages read from one DLQ (default 1000)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every DLQ: kind, depth, age of the oldest message, errors inside")
    redrive = commands.add_parser("redrive", help="return parked messages where they came from")
    redrive.add_argument("--dry-run", action="store_true", help="say what would move; move nothing")
    redrive.add_argument("--error", default=None, help="only messages whose error contains this (any case)")
    redrive.add_argument("--rate", type=_positive, default=None, help="at most N messages a second")
    redrive.add_argument("--role-arn", default=None, help="role to put rule DLQ events back with")
    redrive.add_argument("--wait", type=_positive, default=300.0, help="longest wait for an SQS move task, s")
    for sub in commands.choices.values():  # --queue and --limit after the command too
        sub.add_argument("--queue", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sub.add_argument("--limit", type=_count, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser
