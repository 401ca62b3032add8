"""The trial flow end to end through localcloud: stream and TTL → events → assignment → environments."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.local.api import Response, call
from tests.local.conftest import Local

pytestmark = pytest.mark.local


class Trials:
    """The trial flow's API, tables and stacks, as a sales tool and an operator see them."""

    def __init__(self, local: Local) -> None:
        self.local = local
        self.api_url = local.output("ApiUrl")
        self.dynamodb = local.client("dynamodb")
        self.pool_table = local.output("TrialPoolTableName")

    def request(self, lead: str | None = None) -> Response:
        return call(
            self.api_url, "POST", "/trials", {"leadId": lead or f"lead-{uuid.uuid4().hex[:6]}", "type": "ACS"}
        )

    def trial(self, trial_id: str) -> Response:
        return call(self.api_url, "GET", f"/trials/{trial_id}")

    def refill(self) -> None:
        """What an operator (or a schedule) does: top the warm pool up to its configured size."""
        response = self.local.client("lambda").invoke(
            FunctionName=self.local.output("EnvironmentManagerFunctionName"),
            Payload=json.dumps({"action": "refill"}).encode(),
        )
        assert "FunctionError" not in response, response["Payload"].read()
        self.local.settle()

    def pool(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=self.pool_table)["Items"]
        return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]

    def warm(self) -> list[dict[str, Any]]:
        return [e for e in self.pool() if e["status"] == "WARM"]

    def retire_warm(self) -> None:
        """Takes every warm environment out of the pool, so a test starts from a known pool."""
        for environment in self.warm():
            self.dynamodb.update_item(
                TableName=self.pool_table,
                Key={"environmentId": {"S": environment["environmentId"]}},
                UpdateExpression="SET #s = :retired",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":retired": {"S": "RETIRED"}},
            )

    def seed_warm(self, count: int) -> None:
        for n in range(count):
            self.dynamodb.put_item(
                TableName=self.pool_table,
                Item={
                    "environmentId": {"S": f"seed-{uuid.uuid4().hex[:10]}"},
                    "status": {"S": "WARM"},
                    "stackName": {"S": f"trial-env-seed-{n}"},
                    "createdAt": {"S": f"2026-01-01T00:00:{n:02d}Z"},
                },
            )

    def stack_status(self, stack_name: str) -> str:
        """The stack's status, also once deleted (DescribeStacks by name forgets deleted stacks)."""
        summaries = self.local.client("cloudformation").list_stacks()["StackSummaries"]
        [latest, *_] = sorted(
            (s for s in summaries if s["StackName"] == stack_name),
            key=lambda s: s["CreationTime"],
            reverse=True,
        )
        return str(latest["StackStatus"])

    def events_of(self, detail_type: str, since: int) -> list[dict[str, Any]]:
        bus = self.local.output("EventBusName")
        return [
            r["event"]
            for r in self.local.trace(since=since, kind="event")
            if r.get("bus") == bus and r["event"]["detail-type"] == detail_type
        ]

    def environment_rule(self) -> str:
        rules = self.local.client("events").list_rules(EventBusName=self.local.output("EventBusName"))[
            "Rules"
        ]
        [rule] = [r["Name"] for r in rules if "EnvironmentManager" in r["Name"]]
        return str(rule)


@pytest.fixture(scope="module")
def trials(local: Local) -> Trials:
    return Trials(local)


def test_a_request_is_assigned_and_the_pool_is_refilled_with_a_new_stack(trials: Trials) -> None:
    # Given a warm pool of trial environments
    trials.retire_warm()
    trials.refill()
    pool_before = {e["environmentId"] for e in trials.warm()}
    assert len(pool_before) == 3
    since = trials.local.last_seq()
    # When a trial is requested through the API
    requested = trials.request()
    assert requested.status == 202, requested
    trial_id = requested.body["trialId"]
    trials.local.settle()
    # Then the stream produced TrialRequested, the workflow assigned a warm environment
    assert [e["detail"]["trialId"] for e in trials.events_of("TrialRequested", since)] == [trial_id]
    [assigned] = trials.events_of("TrialAssigned", since)
    assert assigned["detail"] == {
        "version": "1.0",
        "trialId": trial_id,
        "leadId": requested.body.get("leadId", assigned["detail"]["leadId"]),
        "type": "ACS",
        "requestedAt": assigned["detail"]["requestedAt"],
        "status": "ASSIGNED",
    }
    trial = trials.trial(trial_id).body
    assert trial["status"] == "ASSIGNED" and trial["environmentId"] in pool_before
    # And the environment manager created a new warm environment: a stack that exists
    warm_after = trials.warm()
    new = [e for e in warm_after if e["environmentId"] not in pool_before]
    assert len(new) == 1 and len(warm_after) == 3
    assert trials.stack_status(new[0]["stackName"]) == "CREATE_COMPLETE"


def test_an_empty_pool_fails_the_assignment_visibly(trials: Trials) -> None:
    trials.retire_warm()
    since = trials.local.last_seq()
    trial_id = trials.request().body["trialId"]
    trials.local.settle()
    [failed] = trials.events_of("TrialAssignmentFailed", since)
    assert failed["detail"]["trialId"] == trial_id and failed["detail"]["status"] == "FAILED"
    assert trials.trial(trial_id).body["status"] == "FAILED"


def test_a_user_delete_is_not_an_expiry(trials: Trials) -> None:
    trial_id = trials.request().body["trialId"]
    trials.local.settle()
    since = trials.local.last_seq()
    trials.dynamodb.delete_item(
        TableName=trials.local.output("TrialsTableName"), Key={"trialId": {"S": trial_id}}
    )
    trials.local.settle()
    assert [e for e in trials.events_of("TrialExpired", since) if e["detail"]["trialId"] == trial_id] == []


def test_50_concurrent_requests_against_a_pool_of_20(trials: Trials) -> None:
    # Given exactly 20 warm environments, and no refill while the burst runs
    events = trials.local.client("events")
    bus = trials.local.output("EventBusName")
    rule = trials.environment_rule()
    trials.retire_warm()
    trials.seed_warm(20)
    events.disable_rule(Name=rule, EventBusName=bus)
    try:
        since = trials.local.last_seq()
        # When 50 trials are requested at once
        with ThreadPoolExecutor(max_workers=10) as pool:
            responses = list(pool.map(lambda n: trials.request(f"burst-{n}"), range(50)))
        assert all(r.status == 202 for r in responses)
        trials.local.settle(timeout=120)
    finally:
        events.enable_rule(Name=rule, EventBusName=bus)
    # Then exactly 20 were assigned, 30 failed, and no environment was claimed twice
    ids = {r.body["trialId"] for r in responses}
    assigned = [
        e["detail"]["trialId"]
        for e in trials.events_of("TrialAssigned", since)
        if e["detail"]["trialId"] in ids
    ]
    failed = [
        e["detail"]["trialId"]
        for e in trials.events_of("TrialAssignmentFailed", since)
        if e["detail"]["trialId"] in ids
    ]
    assert (len(assigned), len(failed)) == (20, 30)
    environments = [trials.trial(t).body.get("environmentId") for t in assigned]
    assert len(set(environments)) == 20
    claimed = Counter(
        e.get("trialId") for e in trials.pool() if e["status"] == "CLAIMED" and e.get("trialId") in ids
    )
    assert len(claimed) == 20 and set(claimed.values()) == {1}


def test_expiry_through_the_clock_deletes_the_environment_stack(trials: Trials) -> None:
    # Runs after the other trial tests: the local clock only moves forward, and trials created after
    # an advance (with expiries from real time) would look expired already.
    # Given an assigned trial with its environment stack
    trials.retire_warm()
    trials.refill()
    trial_id = trials.request().body["trialId"]
    trials.local.settle()
    environment_id = trials.trial(trial_id).body["environmentId"]
    [environment] = [e for e in trials.pool() if e["environmentId"] == environment_id]
    since = trials.local.last_seq()
    # When its time is up (the trial lives 7 days by default)
    trials.local.call("POST", "/_localcloud/clock", {"advance": 8 * 24 * 3600})
    trials.local.settle()
    # Then TTL removed the row, the stream said TrialExpired, and the environment stack is gone
    expired = [e["detail"]["trialId"] for e in trials.events_of("TrialExpired", since)]
    assert trial_id in expired
    assert trials.trial(trial_id).status == 404
    [after] = [e for e in trials.pool() if e["environmentId"] == environment_id]
    assert after["status"] == "DELETED"
    assert trials.stack_status(environment["stackName"]) == "DELETE_COMPLETE"


def test_the_metrics_consumer_saw_every_event_of_the_app(trials: Trials, local: Local) -> None:
    # Given everything the session published on the custom bus so far
    local.settle()
    bus = local.output("EventBusName")
    published = Counter(
        (r["event"]["source"], r["event"]["detail-type"])
        for r in local.trace(kind="event")
        if r.get("bus") == bus
        and r["event"]["source"] in {"myapp.userservice", "myapp.orders", "OnlineTrial"}
    )
    # When the metrics consumer's EMF lines are read back from its log group
    logs = local.client("logs")
    counted: Counter[tuple[str, str]] = Counter()
    kwargs: dict[str, Any] = {
        "logGroupName": local.output("MetricsLogGroupName"),
        "filterPattern": "CloudWatchMetrics",
    }
    deadline = time.monotonic() + 30
    while True:
        page = logs.filter_log_events(**kwargs)
        for event in page["events"]:
            line = json.loads(event["message"])
            if "Events" in line:
                counted[(line["source"], line["detailType"])] += int(
                    sum(line["Events"]) if isinstance(line["Events"], list) else line["Events"]
                )
        if "nextToken" not in page or time.monotonic() > deadline:
            break
        kwargs["nextToken"] = page["nextToken"]
    # Then it counted every event, per source and DetailType
    assert published and counted == published
