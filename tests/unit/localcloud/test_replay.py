"""EventBridge archives and replays in localcloud: what is archived, the window, FilterArns, the
`replay-name` field, no re-archiving, the replay's states and AWS's errors."""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.eventbridge import replay as replay_module
from localcloud.eventbridge.replay import in_window, keep
from tests.unit.localcloud.running_cloud import Cloud, running_cloud, wait_until

ACCOUNT = "123456789012"
REGION = "us-east-1"


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the archive's store, no AWS -------------------------------------------------------------------
def test_the_archive_keeps_the_newest_events_up_to_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an archive as moto makes it, and a bound of 3
    monkeypatch.setattr(replay_module, "MAX_ARCHIVED_EVENTS", 3)
    archive = SimpleNamespace(events=[], retention=0)
    # When 5 events are kept
    for n in range(5):
        keep(archive, {"id": str(n), "time": iso(1_000_000 + n)})
    # Then the 3 newest are, oldest first
    assert [e["id"] for e in archive.events] == ["2", "3", "4"]


def test_the_window_includes_its_start_excludes_its_end_and_honours_retention() -> None:
    # Given events one minute apart, the first 3 days old, in an archive kept 2 days
    now = 1_700_000_000.0
    first = now - 3 * 86400
    times = [first, now - 86400, now - 120, now - 60]
    archive = SimpleNamespace(
        events=deque({"id": str(i), "time": iso(t)} for i, t in enumerate(times)), retention=2
    )
    # When the window spans all of them, and then starts at the third and ends at the fourth
    everything = in_window(archive, first, now, now=now)
    partial = in_window(archive, now - 120, now - 60, now=now)
    # Then the one past retention is not replayed; the start is included and the end is not
    assert [e["id"] for _, e in everything] == ["1", "2", "3"]
    assert [e["id"] for _, e in partial] == ["2"]


def test_the_window_is_in_event_time_order() -> None:
    # Given events archived out of time order (a PutEvents entry may carry its own Time)
    archive = SimpleNamespace(
        events=deque({"id": i, "time": iso(t)} for i, t in [("b", 20), ("a", 10), ("c", 20)]), retention=0
    )
    # Then they replay by time, same-second events in archive order
    assert [e["id"] for _, e in in_window(archive, 0, 100, now=100)] == ["a", "b", "c"]


# -- through a running localcloud ------------------------------------------------------------------
@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("state")) as running:
        yield running


class Bus:
    """A bus of its own for one test, with an archive of everything on it and queue-targeted rules."""

    def __init__(self, cloud: Cloud, *, archive_pattern: dict[str, Any] | None = None) -> None:
        self.cloud = cloud
        self.events = cloud.client("events")
        self.sqs = cloud.client("sqs")
        self.name = f"bus-{uuid.uuid4().hex[:8]}"
        self.arn = self.events.create_event_bus(Name=self.name)["EventBusArn"]
        self.archive = f"archive-{self.name}"
        self.archive_arn = self.events.create_archive(
            ArchiveName=self.archive,
            EventSourceArn=self.arn,
            EventPattern=json.dumps(archive_pattern or {"account": [ACCOUNT]}),
            RetentionDays=7,
        )["ArchiveArn"]

    def rule(self, name: str, pattern: dict[str, Any] | None = None) -> tuple[str, str]:
        """A rule (pattern: source `test`) whose target is a new queue; returns (rule ARN, queue URL)."""
        url = self.sqs.create_queue(QueueName=f"{self.name}-{name}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        arn = self.events.put_rule(
            Name=name, EventBusName=self.name, EventPattern=json.dumps(pattern or {"source": ["test"]})
        )["RuleArn"]
        self.events.put_targets(Rule=name, EventBusName=self.name, Targets=[{"Id": "q", "Arn": queue_arn}])
        return arn, url

    def put(self, n: int, at: float, source: str = "test") -> None:
        entry = {
            "Source": source,
            "DetailType": "Numbered",
            "Detail": json.dumps({"n": n}),
            "EventBusName": self.name,
            "Time": datetime.fromtimestamp(at, UTC),
        }
        assert self.events.put_events(Entries=[entry])["FailedEntryCount"] == 0

    def received(self, url: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            messages.extend(json.loads(m["Body"]) for m in batch)
            for m in batch:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return messages

    def archived(self) -> int:
        return int(self.events.describe_archive(ArchiveName=self.archive)["EventCount"])

    def replay(self, start: float, end: float, **destination: Any) -> str:
        name = f"replay-{uuid.uuid4().hex[:8]}"
        started = self.events.start_replay(
            ReplayName=name,
            EventSourceArn=self.archive_arn,
            EventStartTime=datetime.fromtimestamp(start, UTC),
            EventEndTime=datetime.fromtimestamp(end, UTC),
            Destination={"Arn": self.arn, **destination},
        )
        assert started["State"] == "STARTING"
        return name

    def finished(self, name: str) -> dict[str, Any]:
        """Waits (generously) until the replay leaves STARTING/RUNNING/CANCELLING; its description."""
        done: dict[str, Any] = {}

        def ended() -> bool:
            done.update(self.events.describe_replay(ReplayName=name))
            return done["State"] in {"COMPLETED", "CANCELLED", "FAILED"}

        wait_until(ended, f"replay {name} to end")
        self.cloud.settle()
        return done


def numbers(events: list[dict[str, Any]]) -> list[int]:
    return [e["detail"]["n"] for e in events]


def replay_states(cloud: Cloud, name: str) -> list[str]:
    return [r["state"] for r in cloud.cloud.trace.records(kind="replay") if r.get("replay") == name]


def test_a_replay_redelivers_the_window_in_order_marked_and_not_archived_again(cloud: Cloud) -> None:
    # Given four events ten seconds apart, delivered and archived
    bus = Bus(cloud)
    _, url = bus.rule("all")
    t0 = float(int(cloud.cloud.clock.now()) - 600)
    for n in range(4):
        bus.put(n, t0 + 10 * n)
    cloud.settle()
    originals = {e["detail"]["n"]: e["id"] for e in bus.received(url)}
    assert sorted(originals) == [0, 1, 2, 3] and bus.archived() == 4
    # When the window from the second event to the fourth (exclusive) is replayed
    name = bus.replay(t0 + 10, t0 + 30)
    replay = bus.finished(name)
    # Then the second and third are delivered again, in order, with replay-name and new ids
    again = bus.received(url)
    assert numbers(again) == [1, 2]
    assert all(e["replay-name"] == name for e in again)
    assert all(e["id"] != originals[e["detail"]["n"]] for e in again)
    assert all(e["time"] == iso(t0 + 10 * e["detail"]["n"]) for e in again)
    # And the archive did not keep them again
    assert bus.archived() == 4
    # And the replay went STARTING -> RUNNING -> COMPLETED, describing what it did
    assert replay_states(cloud, name) == ["STARTING", "RUNNING", "COMPLETED"]
    assert replay["State"] == "COMPLETED"
    assert replay["EventSourceArn"] == bus.archive_arn and replay["Destination"] == {"Arn": bus.arn}
    assert replay["EventStartTime"].timestamp() == t0 + 10 and replay["EventEndTime"].timestamp() == t0 + 30
    assert replay["EventLastReplayedTime"].timestamp() == t0 + 20
    assert replay["ReplayStartTime"] <= replay["ReplayEndTime"]


def test_filter_arns_replay_to_the_named_rules_only(cloud: Cloud) -> None:
    # Given two rules that match the same events
    bus = Bus(cloud)
    first_arn, first = bus.rule("first")
    _, second = bus.rule("second")
    t0 = float(int(cloud.cloud.clock.now()) - 60)
    bus.put(7, t0)
    cloud.settle()
    assert numbers(bus.received(first)) == numbers(bus.received(second)) == [7]
    # When the window is replayed to the first rule alone
    bus.finished(bus.replay(t0, t0 + 1, FilterArns=[first_arn]))
    # Then only the first rule's target got it again
    assert numbers(bus.received(first)) == [7]
    assert bus.received(second) == []


def test_rules_see_replay_name_as_any_other_field(cloud: Cloud) -> None:
    # Given a rule that takes live events only, and one that takes replayed events only
    bus = Bus(cloud)
    _, live = bus.rule("live", {"source": ["test"], "replay-name": [{"exists": False}]})
    _, replays = bus.rule("replays", {"source": ["test"], "replay-name": [{"exists": True}]})
    t0 = float(int(cloud.cloud.clock.now()) - 60)
    bus.put(1, t0)
    cloud.settle()
    # When the event is replayed
    bus.finished(bus.replay(t0, t0 + 1))
    # Then the live rule got it once, when it happened; the other one only the replay
    assert [("replay-name" in e) for e in bus.received(live)] == [False]
    assert [("replay-name" in e) for e in bus.received(replays)] == [True]


def test_the_archive_keeps_what_its_pattern_matches_even_after_an_update(cloud: Cloud) -> None:
    # Given an archive of source `kept` only
    bus = Bus(cloud, archive_pattern={"source": ["kept"]})
    now = cloud.cloud.clock.now()
    bus.put(1, now, source="kept")
    bus.put(2, now, source="other")
    assert bus.archived() == 1
    # When its pattern is changed to source `other`
    bus.events.update_archive(ArchiveName=bus.archive, EventPattern=json.dumps({"source": ["other"]}))
    bus.put(3, now, source="kept")
    bus.put(4, now, source="other")
    # Then it keeps what the new pattern matches
    assert bus.archived() == 2


def test_replays_are_listed_by_state_prefix_and_archive(cloud: Cloud) -> None:
    bus = Bus(cloud)
    t0 = float(int(cloud.cloud.clock.now()) - 60)
    name = bus.replay(t0, t0 + 1)
    bus.finished(name)
    completed = bus.events.list_replays(State="COMPLETED")["Replays"]
    assert name in [r["ReplayName"] for r in completed]
    assert [r["ReplayName"] for r in bus.events.list_replays(NamePrefix=name)["Replays"]] == [name]
    [listed] = bus.events.list_replays(EventSourceArn=bus.archive_arn)["Replays"]
    assert (listed["ReplayName"], listed["State"]) == (name, "COMPLETED")
    assert name not in [r["ReplayName"] for r in bus.events.list_replays(State="RUNNING")["Replays"]]


class HeldScheduler:
    """Keeps submitted jobs until the test runs them: a replay that has not started yet."""

    def __init__(self) -> None:
        self.jobs: list[Callable[[], object]] = []

    def submit(self, fn: Callable[[], object], **_: Any) -> None:
        self.jobs.append(fn)


def test_a_cancelled_replay_stops_before_its_next_event_and_a_finished_one_cannot_be_cancelled(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a replay that has not started running
    bus = Bus(cloud)
    _, url = bus.rule("all")
    t0 = float(int(cloud.cloud.clock.now()) - 60)
    bus.put(1, t0)
    cloud.settle()
    bus.received(url)
    held = HeldScheduler()
    monkeypatch.setattr(cloud.cloud.replays, "_scheduler", held)
    name = bus.replay(t0, t0 + 1)
    assert bus.events.describe_replay(ReplayName=name)["State"] == "STARTING"
    # When it is cancelled, and then gets to run
    cancelled = bus.events.cancel_replay(ReplayName=name)
    assert cancelled["State"] == "CANCELLING"
    assert bus.events.describe_replay(ReplayName=name)["State"] == "CANCELLING"
    [job] = held.jobs
    job()
    # Then it ends CANCELLED, having replayed nothing
    assert bus.finished(name)["State"] == "CANCELLED"
    assert bus.received(url) == []
    # And a replay that completed cannot be cancelled
    monkeypatch.undo()
    done = bus.replay(t0, t0 + 1)
    bus.finished(done)
    with pytest.raises(ClientError) as error:
        bus.events.cancel_replay(ReplayName=done)
    assert error.value.response["Error"]["Code"] == "IllegalStatusException"


def error_of(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]


def test_bad_replays_are_refused_as_aws_refuses_them(cloud: Cloud) -> None:
    bus = Bus(cloud)
    other = Bus(cloud)
    other_rule, _ = other.rule("elsewhere")
    now = cloud.cloud.clock.now()
    events = bus.events

    def start(**overrides: Any) -> Callable[[], Any]:
        params: dict[str, Any] = {
            "ReplayName": f"bad-{uuid.uuid4().hex[:8]}",
            "EventSourceArn": bus.archive_arn,
            "EventStartTime": datetime.fromtimestamp(now - 60, UTC),
            "EventEndTime": datetime.fromtimestamp(now, UTC),
            "Destination": {"Arn": bus.arn},
            **overrides,
        }
        return lambda: events.start_replay(**params)

    # The end before the start
    code, message = error_of(
        start(
            EventStartTime=datetime.fromtimestamp(now, UTC),
            EventEndTime=datetime.fromtimestamp(now - 60, UTC),
        )
    )
    assert code == "ValidationException" and "EventStartTime must be before EventEndTime" in message
    # An archive that does not exist
    missing = bus.archive_arn.replace(bus.archive, "no-such-archive")
    assert error_of(start(EventSourceArn=missing)) == (
        "ResourceNotFoundException",
        "Archive no-such-archive does not exist.",
    )
    # A destination that is not a bus, or another bus than the archive's
    code, message = error_of(start(Destination={"Arn": bus.archive_arn}))
    assert code == "ValidationException" and "Must contain an event bus ARN" in message
    code, message = error_of(start(Destination={"Arn": other.arn}))
    assert code == "ValidationException" and "Cross event bus replay is not permitted" in message
    # A FilterArns rule of another bus
    code, message = error_of(start(Destination={"Arn": bus.arn, "FilterArns": [other_rule]}))
    assert code == "ValidationException" and other_rule in message
    # A name already used
    name = bus.replay(now - 60, now)
    assert error_of(start(ReplayName=name))[0] == "ResourceAlreadyExistsException"
    # A replay that does not exist
    assert error_of(lambda: events.describe_replay(ReplayName="no-such-replay")) == (
        "ResourceNotFoundException",
        "Replay no-such-replay does not exist.",
    )
    assert (
        error_of(lambda: events.cancel_replay(ReplayName="no-such-replay"))[0] == "ResourceNotFoundException"
    )
    # Two filters on ListReplays, an unknown state
    assert (
        error_of(lambda: events.list_replays(NamePrefix="a", State="COMPLETED"))[0] == "ValidationException"
    )
    assert error_of(lambda: events.list_replays(State="DONE"))[0] == "ValidationException"
    # And nothing of these made a replay
    assert [r["ReplayName"] for r in events.list_replays(EventSourceArn=bus.archive_arn)["Replays"]] == [name]
    bus.finished(name)
