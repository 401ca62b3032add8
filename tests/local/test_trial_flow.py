"""The trial flow end to end through localcloud, as a sales tool and an operator see it: requests,
assignment, environments that are WARM only once CloudFormation says so, forged events refused,
the scheduled reconcile, and expiry that deletes a trial whose bucket holds data."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from tests.local.api import Response, call
from tests.local.conftest import Local
from tests.local.contract_check import app_events, assert_each_keeps_its_contract
from tests.local.flow_tree import flow, nodes

pytestmark = pytest.mark.local


class Trials:
    """The trial flow's API, tables, rules and stacks, as a sales tool and an operator see them."""

    def __init__(self, local: Local) -> None:
        self.local = local
        self.api_url = local.output("ApiUrl")
        self.dynamodb = local.client("dynamodb")
        self.events = local.client("events")
        self.pool_table = local.output("TrialPoolTableName")
        self.trials_table = local.output("TrialsTableName")
        self.bus = local.output("EventBusName")

    def request(self, lead: str | None = None, headers: dict[str, str] | None = None) -> Response:
        body = {"leadId": lead or f"lead-{uuid.uuid4().hex[:6]}", "type": "ACS"}
        return call(self.api_url, "POST", "/trials", body, headers=headers)

    def trial(self, trial_id: str) -> Response:
        return call(self.api_url, "GET", f"/trials/{trial_id}")

    def reconcile(self) -> None:
        """What the schedule does every 5 minutes, now: the reconcile rule fires, then it all settles.

        The rule is kept DISABLED while these tests run (see the `trials` fixture), so that it fires
        only here and not in the middle of a test that counts environments; it is enabled just to fire.
        """
        rule = self.local.output("TrialPoolReconcileRuleName")
        self.events.enable_rule(Name=rule)
        try:
            fired = self.local.call("POST", f"/_localcloud/schedules/{rule}")
        finally:
            self.events.disable_rule(Name=rule)
        assert "eventId" in fired, fired
        self.local.settle(timeout=60)

    def pool(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=self.pool_table, ConsistentRead=True)["Items"]
        return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]

    def with_status(self, status: str) -> list[dict[str, Any]]:
        return [e for e in self.pool() if e["status"] == status]

    def retire(self, status: str) -> None:
        """What an operator does to an environment they distrust: mark it FAILED (retired), for the
        reconcile to delete and replace."""
        for environment in self.with_status(status):
            self.dynamodb.update_item(
                TableName=self.pool_table,
                Key={"environmentId": {"S": environment["environmentId"]}},
                UpdateExpression="SET #s = :failed",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":failed": {"S": "FAILED"}},
            )

    def fresh_warm_pool(self) -> set[str]:
        """Every live environment retired, then the reconcile: a pool of 3 new WARM environments."""
        for status in ("WARM", "PROVISIONING"):
            self.retire(status)
        self.reconcile()
        warm = {e["environmentId"] for e in self.with_status("WARM")}
        assert len(warm) == 3, self.pool()
        return warm

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

    def stack(self, stack_name: str) -> dict[str, Any]:
        """The stack's latest summary, also once deleted (DescribeStacks by name forgets deleted stacks)."""
        summaries = self.local.client("cloudformation").list_stacks()["StackSummaries"]
        [latest, *_] = sorted(
            (s for s in summaries if s["StackName"] == stack_name),
            key=lambda s: s["CreationTime"],
            reverse=True,
        )
        return dict(latest)

    def bucket_of(self, stack_name: str) -> str:
        [stack] = self.local.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "BucketName")

    def events_of(self, detail_type: str, since: int, bus: str | None = None) -> list[dict[str, Any]]:
        return [
            r["event"]
            for r in self.local.trace(since=since, kind="event")
            if r.get("bus") == (bus or self.bus) and r["event"]["detail-type"] == detail_type
        ]

    def rule(self, bus: str, matches: str) -> str:
        """The one rule on the bus whose pattern mentions `matches` (rule names are generated)."""
        rules = self.events.list_rules(EventBusName=bus)["Rules"]
        [rule] = [r["Name"] for r in rules if matches in r.get("EventPattern", "")]
        return str(rule)

    @contextmanager
    def rule_disabled(self, bus: str, matches: str) -> Iterator[None]:
        name = self.rule(bus, matches)
        self.events.disable_rule(Name=name, EventBusName=bus)
        try:
            yield
        finally:
            self.events.enable_rule(Name=name, EventBusName=bus)

    def failures(self) -> list[dict[str, Any]]:
        """The environment manager's OnFailure records (Lambda's asynchronous-invocation failures)."""
        sqs = self.local.client("sqs")
        url = self.local.output("EnvironmentManagerFailureDlqUrl")
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture(scope="module")
def trials(local: Local) -> Iterator[Trials]:
    trials = Trials(local)
    rule = local.output("TrialPoolReconcileRuleName")
    trials.events.disable_rule(Name=rule)
    try:
        yield trials
    finally:
        trials.events.enable_rule(Name=rule)


def test_an_environment_is_warm_only_once_its_stack_is_create_complete(trials: Trials) -> None:
    # Given no live environment, and the status changes of trial stacks not reaching the manager
    for status in ("WARM", "PROVISIONING"):
        trials.retire(status)
    with trials.rule_disabled("default", "aws.cloudformation"):
        # When the reconcile provisions the pool
        trials.reconcile()
        # Then the stacks are CREATE_COMPLETE, but nothing said so to the pool: no environment is WARM
        provisioning = trials.with_status("PROVISIONING")
        assert len(provisioning) == 3 and trials.with_status("WARM") == []
        assert {trials.stack(e["stackName"])["StackStatus"] for e in provisioning} == {"CREATE_COMPLETE"}
        # And a trial requested now is not given an environment whose stack nobody reported ready
        requested = trials.request()
        trials.local.settle()
        assert trials.trial(requested.body["trialId"]).body["status"] == "FAILED"
    # Given those environments are retired (their status events are lost for good)
    trials.retire("PROVISIONING")
    since = trials.local.last_seq()
    # When the reconcile runs with the status changes flowing
    trials.reconcile()
    # Then each new environment became WARM after CloudFormation's CREATE_COMPLETE for its stack
    warm = trials.with_status("WARM")
    assert len(warm) == 3
    completed = {
        e["detail"]["stack-id"].split("/")[1]
        for e in trials.events_of("CloudFormation Stack Status Change", since, bus="default")
        if e["detail"]["status-details"]["status"] == "CREATE_COMPLETE"
    }
    assert {e["stackName"] for e in warm} <= completed
    # And the retired ones were deleted with their stacks: none leaked
    assert {trials.stack(e["stackName"])["StackStatus"] for e in provisioning} == {"DELETE_COMPLETE"}


def test_a_request_is_assigned_a_warm_environment_and_the_pool_is_refilled(trials: Trials) -> None:
    # Given a warm pool of trial environments
    pool_before = trials.fresh_warm_pool()
    since = trials.local.last_seq()
    # When a trial is requested through the API
    requested = trials.request()
    assert requested.status == 202, requested
    trial_id = requested.body["trialId"]
    trials.local.settle()
    # Then the stream produced TrialRequested, and the workflow assigned a warm environment
    assert [e["detail"]["trialId"] for e in trials.events_of("TrialRequested", since)] == [trial_id]
    [assigned] = trials.events_of("TrialAssigned", since)
    assert (assigned["detail"]["trialId"], assigned["detail"]["status"]) == (trial_id, "ASSIGNED")
    trial = trials.trial(trial_id).body
    assert trial["status"] == "ASSIGNED" and trial["environmentId"] in pool_before
    # And the manager provisioned a replacement, WARM once its stack reported CREATE_COMPLETE
    warm_after = trials.with_status("WARM")
    new = [e for e in warm_after if e["environmentId"] not in pool_before]
    assert len(new) == 1 and len(warm_after) == 3
    assert trials.stack(new[0]["stackName"])["StackStatus"] == "CREATE_COMPLETE"


def test_every_event_a_trial_puts_on_the_bus_keeps_its_contract(trials: Trials) -> None:
    # Given a warm pool and the trace's position
    trials.fresh_warm_pool()
    since = trials.local.last_seq()
    # When a trial is requested and assigned
    trial_id = trials.request().body["trialId"]
    trials.local.settle()
    assert trials.trial(trial_id).body["status"] == "ASSIGNED"
    # Then every event of the trial on the app's bus (from the stream and the workflow) is valid
    published = assert_each_keeps_its_contract(app_events(trials.local, since, trialId=trial_id))
    assert published == ["TrialRequested", "TrialAssigned"]


def test_one_trials_trace_runs_from_its_request_to_trial_assigned(trials: Trials) -> None:
    # Given a trial assigned from a warm pool
    trials.fresh_warm_pool()
    trial_id = trials.request().body["trialId"]
    trials.local.settle()
    # When its trace is asked for by the trial id
    tree = flow(trials.local, trial_id)
    # Then it holds the request, TrialRequested and TrialAssigned, and the assignment execution
    assert (tree["name"], tree["outcome"]) == (trial_id, "ok")
    assert tree["children"][0]["name"] == "POST /trials"
    names = [event["name"] for event in nodes(tree, "event")]
    assert "TrialRequested (OnlineTrial)" in names and "TrialAssigned (OnlineTrial)" in names
    [execution] = nodes(tree, "execution")
    assert execution["outcome"] == "SUCCEEDED"
    assert any(state.get("task", "").startswith("lambda:invoke") for state in nodes(execution, "state"))


def test_a_retried_request_gives_one_trial(trials: Trials) -> None:
    # Given a trial requested for a lead
    lead = f"lead-{uuid.uuid4().hex[:6]}"
    first = trials.request(lead)
    # When the sales tool retries it, with and without an Idempotency-Key of its own
    again = trials.request(lead)
    keyed = [trials.request(f"{lead}-k", headers={"Idempotency-Key": "form-submit-4711"}) for _ in range(2)]
    trials.local.settle()
    # Then one trial per request, answered 202 then 200
    assert (first.status, again.status) == (202, 200)
    assert again.body["trialId"] == first.body["trialId"]
    assert [r.status for r in keyed] == [202, 200] and keyed[0].body["trialId"] == keyed[1].body["trialId"]
    rows = trials.dynamodb.scan(TableName=trials.trials_table)["Items"]
    assert sum(1 for r in rows if r["leadId"]["S"] == lead) == 1


def test_bad_trial_ids_answer_404(trials: Trials) -> None:
    for trial_id in (str(uuid.uuid4()), "x" * 2000, "not-a-trial"):
        response = trials.trial(trial_id)
        assert response.status == 404 and response.body == {"message": "trial not found"}


def test_a_forged_trial_expired_for_a_live_trial_deletes_nothing_and_is_parked(trials: Trials) -> None:
    # Given a live, assigned trial with its environment
    trials.fresh_warm_pool()
    requested = trials.request()
    trials.local.settle()
    trial = trials.trial(requested.body["trialId"]).body
    [environment] = [e for e in trials.pool() if e["environmentId"] == trial["environmentId"]]
    # When someone puts a TrialExpired for it on the bus (aws events put-events, source OnlineTrial)
    detail = {k: trial[k] for k in ("trialId", "leadId", "type", "requestedAt")}
    entry = {
        "Source": "OnlineTrial",
        "DetailType": "TrialExpired",
        "Detail": json.dumps({"version": "1.0", **detail, "status": "EXPIRED"}),
        "EventBusName": trials.bus,
    }
    assert trials.events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    trials.local.settle(timeout=60)
    # Then the stack is still there, the environment still the trial's, the trial still ASSIGNED
    assert trials.stack(environment["stackName"])["StackStatus"] == "CREATE_COMPLETE"
    assert [e["status"] for e in trials.pool() if e["environmentId"] == environment["environmentId"]] == [
        "CLAIMED"
    ]
    assert trials.trial(trial["trialId"]).body["status"] == "ASSIGNED"
    # And the event is parked in the manager's failure DLQ with the reason, which echoes nothing of it
    [parked] = [f for f in trials.failures() if f["requestPayload"]["detail"]["trialId"] == trial["trialId"]]
    assert parked["responsePayload"]["errorType"] == "TrialNotExpired"
    reason = parked["responsePayload"]["errorMessage"]
    assert "unexpired" in reason and trial["leadId"] not in reason and trial["trialId"] not in reason


def test_a_failed_stack_is_retired_and_replaced(trials: Trials) -> None:
    # Given a warm pool, and CloudFormation failing the next stack creation (rolled back, as on AWS)
    trials.fresh_warm_pool()
    trials.local.call(
        "POST",
        "/_localcloud/faults",
        {"faults": [{"service": "cloudformation", "operation": "CreateStack", "effect": "fail", "times": 1}]},
    )
    try:
        # When one environment is retired and the reconcile replaces it
        [victim, *_] = trials.with_status("WARM")
        trials.dynamodb.update_item(
            TableName=trials.pool_table,
            Key={"environmentId": {"S": victim["environmentId"]}},
            UpdateExpression="SET #s = :failed",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":failed": {"S": "FAILED"}},
        )
        trials.reconcile()
    finally:
        trials.local.call("DELETE", "/_localcloud/faults")
    # Then the replacement whose creation failed was never WARM: it was retired with CloudFormation's
    # reason and its rolled-back stack deleted, and a replacement of it made the pool whole again
    failed = [e for e in trials.pool() if "ROLLBACK" in e.get("statusReason", "")]
    assert len(failed) == 1 and failed[0]["status"] == "DELETED"
    assert trials.stack(failed[0]["stackName"])["StackStatus"] == "DELETE_COMPLETE"
    assert len(trials.with_status("WARM")) == 3


def test_50_concurrent_requests_against_a_pool_of_20(trials: Trials) -> None:
    # Given exactly 20 warm environments, and no replacement while the burst runs
    for status in ("WARM", "PROVISIONING"):
        trials.retire(status)
    trials.seed_warm(20)
    with trials.rule_disabled(trials.bus, "TrialExpired"):
        since = trials.local.last_seq()
        # When 50 trials are requested at once
        with ThreadPoolExecutor(max_workers=10) as pool:
            responses = list(
                pool.map(lambda n: trials.request(f"burst-{n}-{uuid.uuid4().hex[:4]}"), range(50))
            )
        assert all(r.status == 202 for r in responses)
        trials.local.settle(timeout=120)
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


def test_the_reconcile_refills_the_pool_and_deletes_retired_environments(trials: Trials) -> None:
    # Given a pool whose warm environments were all retired (and seeds whose stacks never existed)
    trials.fresh_warm_pool()
    retired = trials.with_status("WARM")
    trials.retire("WARM")
    # When the schedule fires
    trials.reconcile()
    # Then the retired ones are DELETED with their stacks, and three new ones are WARM
    by_id = {e["environmentId"]: e for e in trials.pool()}
    assert {by_id[e["environmentId"]]["status"] for e in retired} == {"DELETED"}
    assert {trials.stack(e["stackName"])["StackStatus"] for e in retired} == {"DELETE_COMPLETE"}
    assert len(trials.with_status("WARM")) == 3


def test_a_trial_stuck_in_requested_is_swept_to_needs_attention_with_an_event_and_a_metric(
    trials: Trials,
) -> None:
    # Given a trial requested an hour ago that no assignment ever picked up
    trial_id = str(uuid.uuid4())
    now = int(time.time())
    with trials.rule_disabled(trials.bus, "TrialRequested"):
        trials.dynamodb.put_item(
            TableName=trials.trials_table,
            Item={
                "trialId": {"S": trial_id},
                "leadId": {"S": "lead-stuck"},
                "type": {"S": "ACS"},
                "requestedAt": {"N": str(now - 3600)},
                "status": {"S": "REQUESTED"},
                "expiresAt": {"N": str(now + 3600)},
            },
        )
        trials.local.settle()
    assert trials.trial(trial_id).body["status"] == "REQUESTED"
    since = trials.local.last_seq()
    # When the reconcile's sweep runs
    trials.reconcile()
    # Then the trial is NEEDS_ATTENTION, the table's stream said so once on the bus (TrialNeedsAttention,
    # with why and the status it left), and the sweep counted it in the metric the alarm watches
    assert trials.trial(trial_id).body["status"] == "NEEDS_ATTENTION"
    [event] = [
        e for e in trials.events_of("TrialNeedsAttention", since) if e["detail"]["trialId"] == trial_id
    ]
    assert event["source"] == "OnlineTrial"
    assert {k: event["detail"][k] for k in ("leadId", "status", "previousStatus")} == {
        "leadId": "lead-stuck",
        "status": "NEEDS_ATTENTION",
        "previousStatus": "REQUESTED",
    }
    assert "REQUESTED" in event["detail"]["reason"]
    lines = trials.local.client("logs").filter_log_events(
        logGroupName="/aws/lambda/EventDriven-environment-manager", filterPattern="TrialsNeedingAttention"
    )["events"]
    counts = [
        json.loads(e["message"])["TrialsNeedingAttention"] for e in lines if e["message"].startswith("{")
    ]
    assert 1 in counts


def test_expiry_through_the_clock_deletes_the_environment_even_with_data_in_its_bucket(
    trials: Trials,
) -> None:
    # Runs after the other trial tests: the local clock only moves forward, and trials created after
    # an advance (with expiries from real time) would look expired already.
    # Given an assigned trial whose environment's bucket holds the trial's data
    trials.fresh_warm_pool()
    trial_id = trials.request().body["trialId"]
    trials.local.settle()
    environment_id = trials.trial(trial_id).body["environmentId"]
    [environment] = [e for e in trials.pool() if e["environmentId"] == environment_id]
    s3 = trials.local.client("s3")
    bucket = trials.bucket_of(environment["stackName"])
    for n in range(5):
        s3.put_object(Bucket=bucket, Key=f"uploads/{n}.csv", Body=b"a,b\n1,2\n")
    since = trials.local.last_seq()
    # When its time is up (the trial lives 7 days by default)
    trials.local.call("POST", "/_localcloud/clock", {"advance": 8 * 24 * 3600})
    trials.local.settle(timeout=60)
    # Then TTL removed the row, the stream said TrialExpired, and the environment stack is gone
    expired = [e["detail"]["trialId"] for e in trials.events_of("TrialExpired", since)]
    assert trial_id in expired
    assert trials.trial(trial_id).status == 404
    [after] = [e for e in trials.pool() if e["environmentId"] == environment_id]
    assert after["status"] == "DELETED"
    assert trials.stack(environment["stackName"])["StackStatus"] == "DELETE_COMPLETE"


def test_the_metrics_consumer_saw_every_event_of_the_app(trials: Trials, local: Local) -> None:
    # Given everything the session published on the custom bus so far, replays apart (another module
    # replays orders from the archive: EventBridge adds `replay-name` to those)
    local.settle()
    published: Counter[tuple[str, str]] = Counter()
    replayed: Counter[tuple[str, str]] = Counter()
    for event in app_events(local, since=0):
        (replayed if "replay-name" in event else published)[(event["source"], event["detail-type"])] += 1
    # When the metrics consumer's EMF lines are read back from its log group
    logs = local.client("logs")
    counted: dict[str, Counter[tuple[str, str]]] = {"Events": Counter(), "EventsReplayed": Counter()}
    kwargs: dict[str, Any] = {
        "logGroupName": local.output("MetricsLogGroupName"),
        "filterPattern": "CloudWatchMetrics",
    }
    deadline = time.monotonic() + 30
    while True:
        page = logs.filter_log_events(**kwargs)
        for event in page["events"]:
            line = json.loads(event["message"])
            for metric, counter in counted.items():
                if metric in line:
                    value = line[metric]
                    counter[(line["source"], line["detailType"])] += int(
                        sum(value) if isinstance(value, list) else value
                    )
        if "nextToken" not in page or time.monotonic() > deadline:
            break
        kwargs["nextToken"] = page["nextToken"]
    # Then it counted every event once, per source and DetailType, and every replayed one as a replay
    assert published and counted["Events"] == published
    assert counted["EventsReplayed"] == replayed
