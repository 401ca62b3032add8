"""Scheduled EventBridge rules: expressions as AWS reads them, firing on the clock and on request."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.eventbridge.schedule_expressions import InvalidSchedule, parse_schedule
from tests.unit.localcloud.running_cloud import Cloud, running_cloud, wait_until

ACCOUNT = "123456789012"


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M")


# -- expressions ------------------------------------------------------------------------------------
def test_a_rate_counts_from_the_rules_creation() -> None:
    # Given a rule created at 10:00:30 with rate(5 minutes)
    schedule = parse_schedule("rate(5 minutes)")
    created = epoch("2026-12-01T10:00:30")

    # When it is asked for its next times after creation and after 10:07
    first = schedule.next_after(created, anchor=created)
    later = schedule.next_after(epoch("2026-12-01T10:07:00"), anchor=created)

    # Then they are 5 and 10 minutes after creation
    assert (first, later) == (created + 300, created + 600)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 12 * * ? *)", "2026-12-01T12:00:00", "2026-12-02T12:00"),
        ("cron(0/15 * ? * MON-FRI *)", "2026-12-04T23:50:00", "2026-12-07T00:00"),  # Fri -> Mon
        ("cron(0 18 ? * 6L *)", "2026-12-01T00:00:00", "2026-12-25T18:00"),  # last Friday
        ("cron(30 9 ? * 2#1 *)", "2026-12-01T00:00:00", "2026-12-07T09:30"),  # first Monday
        ("cron(0 0 L * ? *)", "2027-02-01T00:00:00", "2027-02-28T00:00"),  # last day of month
        ("cron(0 8 1W * ? *)", "2027-04-20T00:00:00", "2027-05-03T08:00"),  # 1 May 2027 is a Saturday
        ("cron(5 10 * JAN,JUL ? 2027)", "2026-12-01T00:00:00", "2027-01-01T10:05"),
        ("cron(0 0 1 1 ? 2020)", "2026-12-01T00:00:00", None),  # never again
    ],
)
def test_cron_expressions_fire_at_the_times_aws_documents(
    expression: str, after: str, expected: str | None
) -> None:
    # Given a cron expression
    schedule = parse_schedule(expression)

    # When it is asked for its next time after a moment
    fire = schedule.next_after(epoch(after), anchor=0.0)

    # Then it is the time AWS would fire (UTC)
    assert iso(fire) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(5 seconds)",
        "cron(0 12 * * * *)",  # both day fields given
        "cron(0 12 ? * ? *)",  # neither
        "cron(0 12 * * ?)",  # five fields
        "cron(61 12 * * ? *)",
        "cron(0 12 ? * FUNDAY *)",
        "every day",
    ],
)
def test_invalid_expressions_are_refused(expression: str) -> None:
    # Given an expression AWS refuses / When it is parsed / Then it is invalid
    with pytest.raises(InvalidSchedule):
        parse_schedule(expression)


# -- a running localcloud ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("state")) as running:
        yield running


def call(cloud: Cloud, method: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{cloud.endpoint}{path}", data=b"" if method == "POST" else None, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def scheduled_rule(cloud: Cloud, name: str, *, state: str = "ENABLED", **target: Any) -> tuple[str, str]:
    """A rate(1 minute) rule whose target is a new queue (or `target`); returns (rule ARN, queue URL)."""
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=f"{name}-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = cloud.client("events")
    arn = events.put_rule(Name=name, ScheduleExpression="rate(1 minute)", State=state)["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn, **target}])
    return arn, url


def received(cloud: Cloud, url: str) -> list[Any]:
    sqs = cloud.client("sqs")
    messages: list[Any] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages.extend(json.loads(m["Body"]) for m in batch)
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch]
        )
    return messages


def test_firing_a_rule_on_request_delivers_the_scheduled_event(cloud: Cloud) -> None:
    # Given a scheduled rule whose target is a queue
    arn, url = scheduled_rule(cloud, "nightly")

    # When it is fired through /_localcloud/schedules
    status, body = call(cloud, "POST", "/_localcloud/schedules/nightly")
    cloud.settle()

    # Then the queue got AWS's scheduled event, its id the one answered
    [event] = received(cloud, url)
    assert status == 200
    assert event["id"] == body["eventId"]
    assert {k: event[k] for k in ("source", "detail-type", "detail", "resources", "account", "region")} == {
        "source": "aws.events",
        "detail-type": "Scheduled Event",
        "detail": {},
        "resources": [arn],
        "account": ACCOUNT,
        "region": "us-east-1",
    }
    assert event["version"] == "0" and event["time"].endswith("Z")


def test_a_scheduled_event_goes_through_the_targets_input_transformer(cloud: Cloud) -> None:
    # Given a scheduled rule whose target transforms its input
    transformer = {"InputPathsMap": {"rule": "$.resources[0]"}, "InputTemplate": '{"sweep": <rule>}'}
    arn, url = scheduled_rule(cloud, "transformed", InputTransformer=transformer)

    # When it fires
    call(cloud, "POST", "/_localcloud/schedules/transformed")
    cloud.settle()

    # Then the target got the transformed input
    assert received(cloud, url) == [{"sweep": arn}]


def test_a_failing_scheduled_delivery_ends_in_the_targets_dlq(cloud: Cloud) -> None:
    # Given a scheduled rule whose target queue is gone, with a DLQ
    sqs = cloud.client("sqs")
    dlq_url = sqs.create_queue(QueueName="schedule-dlq")["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    arn, _ = scheduled_rule(cloud, "broken", DeadLetterConfig={"Arn": dlq})
    cloud.client("events").put_targets(
        Rule="broken",
        Targets=[
            {
                "Id": "queue",
                "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:no-such-queue",
                "DeadLetterConfig": {"Arn": dlq},
            }
        ],
    )

    # When it fires
    call(cloud, "POST", "/_localcloud/schedules/broken")
    cloud.settle()

    # Then the event is in the DLQ
    [event] = received(cloud, dlq_url)
    assert event["resources"] == [arn] and event["detail-type"] == "Scheduled Event"


def test_unknown_and_pattern_rules_cannot_be_fired(cloud: Cloud) -> None:
    # Given a rule with an event pattern and no schedule
    cloud.client("events").put_rule(Name="patterned", EventPattern=json.dumps({"source": ["x"]}))

    # When each is fired
    unknown = call(cloud, "POST", "/_localcloud/schedules/no-such-rule")
    patterned = call(cloud, "POST", "/_localcloud/schedules/patterned")
    other_bus = call(cloud, "POST", "/_localcloud/schedules/nightly?bus=other")

    # Then each is a 404 with a JSON reason
    assert [status for status, _ in (unknown, patterned, other_bus)] == [404, 404, 404]
    assert all("error" in body for _, body in (unknown, patterned, other_bus))


def test_the_schedules_are_listed_with_their_next_time(cloud: Cloud) -> None:
    # Given an enabled and a disabled scheduled rule
    scheduled_rule(cloud, "listed-on")
    scheduled_rule(cloud, "listed-off", state="DISABLED")

    # When the schedules are listed
    status, body = call(cloud, "GET", "/_localcloud/schedules")

    # Then both are there; only the enabled one has a next time, about a minute away
    by_name = {s["name"]: s for s in body["schedules"]}
    assert status == 200
    assert by_name["listed-on"]["scheduleExpression"] == "rate(1 minute)"
    next_time = epoch(by_name["listed-on"]["next"].removesuffix("Z"))
    assert 0 < next_time - cloud.cloud.clock.now() <= 61
    assert by_name["listed-off"]["state"] == "DISABLED" and by_name["listed-off"]["next"] is None


def test_advancing_the_clock_fires_enabled_rules_once_and_disabled_ones_never(cloud: Cloud) -> None:
    # Given an enabled and a disabled rate(1 minute) rule
    _, on = scheduled_rule(cloud, "ticking-on")
    _, off = scheduled_rule(cloud, "ticking-off", state="DISABLED")
    disabled = call(cloud, "POST", "/_localcloud/schedules/ticking-off")
    since = cloud.cloud.trace.last

    # When local time moves five minutes on
    urllib.request.urlopen(
        urllib.request.Request(
            f"{cloud.endpoint}/_localcloud/clock", data=b'{"advance": 300}', method="POST"
        ),
        timeout=30,
    ).close()
    wait_until(
        lambda: any(
            r.get("rule") == "ticking-on" for r in cloud.cloud.trace.records(since=since, kind="schedule")
        ),
        "the scheduled rule to fire",
    )
    cloud.settle()

    # Then the enabled rule fired once (the missed minutes coalesce), the disabled one not at all
    assert [e["detail-type"] for e in received(cloud, on)] == ["Scheduled Event"]
    assert received(cloud, off) == []
    assert disabled[0] == 409


def test_settling_does_not_wait_for_a_periodic_schedule(cloud: Cloud) -> None:
    # Given a rule that fires every minute, forever
    scheduled_rule(cloud, "forever")

    # When a test settles
    cloud.settle(timeout=30)

    # Then it settled (settle() asserts it), and the schedule's timer is nobody's pending work
    assert cloud.cloud.scheduler.idle(within=5.0)


def test_put_rule_refuses_an_invalid_schedule_like_aws(cloud: Cloud) -> None:
    # Given a cron expression with both day fields / When it is put / Then AWS's ValidationException
    with pytest.raises(ClientError) as refused:
        cloud.client("events").put_rule(Name="bad", ScheduleExpression="cron(0 12 * * * *)")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == "Parameter ScheduleExpression is not valid."
