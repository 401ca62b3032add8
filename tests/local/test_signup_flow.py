"""The signup flow end to end through localcloud, driven with boto3 as a user drives it with the CLI."""

from __future__ import annotations

import fnmatch
import json
import uuid
from typing import Any

import pytest

from tests.local.conftest import Local
from tests.local.flow_tree import flow, nodes

pytestmark = pytest.mark.local

TUTORIAL_ENTRY = {
    "Source": "myapp.userservice",
    "DetailType": "user_signup",
    "Detail": json.dumps({"email": "testuser@example.com", "name": "Test User"}),
    "EventBusName": "default",
}


def sent_emails(local: Local) -> int:
    return int(local.client("ses").get_send_quota()["SentLast24Hours"])


def drain(local: Local, queue_url: str) -> list[dict[str, Any]]:
    sqs = local.client("sqs")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages", []):
        messages += batch
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


@pytest.fixture(scope="module")
def notifications(local: Local) -> str:
    """A queue subscribed to the signup notification topic, as a person's email would be."""
    queue_url = local.client("sqs").create_queue(QueueName=f"notifications-{uuid.uuid4().hex[:8]}")[
        "QueueUrl"
    ]
    queue_arn = local.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    local.client("sns").subscribe(
        TopicArn=local.output("SignupNotificationTopicArn"),
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return queue_url


def test_the_tutorial_command_on_the_default_bus_sends_the_welcome_email(
    local: Local, notifications: str
) -> None:
    # Given localcloud serving the deployed app
    before = sent_emails(local)
    # When the tutorial's put-events runs against the default bus
    response = local.client("events").put_events(Entries=[TUTORIAL_ENTRY])
    local.settle()
    # Then the entry is accepted, one welcome email is sent, and the function logged its work
    assert response["FailedEntryCount"] == 0
    assert sent_emails(local) == before + 1
    event_id = response["Entries"][0]["EventId"]
    logs = local.client("logs").filter_log_events(
        logGroupName=local.output("WelcomeEmailLogGroupName"), filterPattern=event_id
    )["events"]
    assert any("Welcome email sent" in e["message"] for e in logs), logs
    # And the human notification reached the topic, rendered by the input transformer
    [message] = drain(local, notifications)
    assert "New signup: Test User <testuser@example.com>" in message["Body"]


def test_a_signup_on_the_custom_bus_is_handled_the_same_way(local: Local, notifications: str) -> None:
    before = sent_emails(local)
    entry = dict(TUTORIAL_ENTRY, EventBusName=local.output("EventBusName"))
    entry["Detail"] = json.dumps({"email": "other@example.com", "name": "Other Person"})
    local.client("events").put_events(Entries=[entry])
    local.settle()
    assert sent_emails(local) == before + 1
    [message] = drain(local, notifications)
    assert "New signup: Other Person <other@example.com>" in message["Body"]


def test_an_invalid_signup_is_retried_then_parked_with_its_error(local: Local) -> None:
    # Given an event that breaks the contract (no email)
    before = sent_emails(local)
    entry = dict(TUTORIAL_ENTRY, Detail=json.dumps({"name": "No Email"}))
    # When it is published
    event_id = local.client("events").put_events(Entries=[entry])["Entries"][0]["EventId"]
    local.settle()
    # Then no email is sent, and after Lambda's 2 retries the event is in the OnFailure DLQ with the reason
    assert sent_emails(local) == before
    records = [json.loads(m["Body"]) for m in drain(local, local.output("WelcomeEmailFailureDlqUrl"))]
    [record] = [r for r in records if r["requestPayload"]["id"] == event_id]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorType"] == "InvalidSignupEvent"
    assert "email" in record["responsePayload"]["errorMessage"]
    assert record["requestPayload"]["detail"] == {"name": "No Email"}


def test_a_malformed_entry_is_rejected_alone(local: Local) -> None:
    # When one call carries a good entry, a malformed Detail and a missing Source
    response = local.client("events").put_events(
        Entries=[
            TUTORIAL_ENTRY,
            dict(TUTORIAL_ENTRY, Detail="{not json"),
            {"DetailType": "user_signup", "Detail": "{}"},
            dict(TUTORIAL_ENTRY, EventBusName="no-such-bus"),
        ]
    )
    local.settle()
    # Then only the bad entries fail, each with AWS's error code, and the good one is delivered
    codes = [e.get("ErrorCode") for e in response["Entries"]]
    assert codes == [None, "MalformedDetail", "InvalidArgument", "ResourceNotFoundException"]
    assert response["FailedEntryCount"] == 3
    assert "EventId" in response["Entries"][0]


@pytest.fixture
def scratch_queue(local: Local) -> tuple[str, str]:
    sqs = local.client("sqs")
    url = sqs.create_queue(QueueName=f"scratch-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def test_an_undeliverable_target_is_retried_then_parked_in_the_rule_dlq(
    local: Local, scratch_queue: tuple[str, str]
) -> None:
    # Given a rule whose target queue does not exist, with a retry policy and a DLQ
    dlq_url, dlq_arn = scratch_queue
    events = local.client("events")
    bus = local.output("EventBusName")
    events.put_rule(
        Name="undeliverable", EventBusName=bus, EventPattern=json.dumps({"source": ["test.undeliverable"]})
    )
    missing = "arn:aws:sqs:us-east-1:123456789012:no-such-queue"
    events.put_targets(
        Rule="undeliverable",
        EventBusName=bus,
        Targets=[
            {
                "Id": "gone",
                "Arn": missing,
                "DeadLetterConfig": {"Arn": dlq_arn},
                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
            }
        ],
    )
    # When an event matches it
    events.put_events(
        Entries=[{"Source": "test.undeliverable", "DetailType": "x", "Detail": "{}", "EventBusName": bus}]
    )
    local.settle()
    # Then the event is in the DLQ with EventBridge's error attributes
    [message] = drain(local, dlq_url)
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["TARGET_ARN"] == missing
    assert attributes["RULE_ARN"].endswith("/undeliverable")
    assert attributes["ERROR_CODE"] == "ResourceNotFoundException"
    assert json.loads(message["Body"])["source"] == "test.undeliverable"


def test_a_disabled_rule_does_not_fire(local: Local, scratch_queue: tuple[str, str]) -> None:
    url, arn = scratch_queue
    events = local.client("events")
    bus = local.output("EventBusName")
    events.put_rule(
        Name="disabled",
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["test.disabled"]}),
        State="DISABLED",
    )
    events.put_targets(Rule="disabled", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    events.put_events(
        Entries=[{"Source": "test.disabled", "DetailType": "x", "Detail": "{}", "EventBusName": bus}]
    )
    local.settle()
    assert drain(local, url) == []
    # And once enabled, it does
    events.enable_rule(Name="disabled", EventBusName=bus)
    events.put_events(
        Entries=[{"Source": "test.disabled", "DetailType": "x", "Detail": "{}", "EventBusName": bus}]
    )
    local.settle()
    assert len(drain(local, url)) == 1


def test_input_and_input_path_are_applied(local: Local, scratch_queue: tuple[str, str]) -> None:
    url, arn = scratch_queue
    events = local.client("events")
    bus = local.output("EventBusName")
    events.put_rule(Name="inputs", EventBusName=bus, EventPattern=json.dumps({"source": ["test.inputs"]}))
    events.put_targets(
        Rule="inputs",
        EventBusName=bus,
        Targets=[
            {"Id": "const", "Arn": arn, "Input": '{"fixed": true}'},
            {"Id": "path", "Arn": arn, "InputPath": "$.detail.order"},
        ],
    )
    events.put_events(
        Entries=[
            {
                "Source": "test.inputs",
                "DetailType": "x",
                "EventBusName": bus,
                "Detail": json.dumps({"order": {"id": "o-1"}}),
            }
        ]
    )
    local.settle()
    bodies = [json.loads(m["Body"]) for m in drain(local, url)]
    assert {"fixed": True} in bodies and {"id": "o-1"} in bodies


def test_the_archive_receives_the_buses_events(local: Local) -> None:
    archive = local.client("events").describe_archive(ArchiveName=local.output("ArchiveName"))
    assert archive["EventCount"] >= 1


def test_the_deployed_bus_policy_reserves_the_apps_sources_to_roles_of_their_stacks(local: Local) -> None:
    # Given the bus policy as deployed, and the roles the app's functions run under
    policy = json.loads(
        local.client("events").describe_event_bus(Name=local.output("EventBusName"))["Policy"]
    )
    exceptions = {
        statement["Condition"]["ForAnyValue:StringEquals"]["events:source"][0]: statement["Condition"][
            "ArnNotLike"
        ]["aws:PrincipalArn"]
        for statement in policy["Statement"]
        if statement["Effect"] == "Deny"
    }
    roles = {
        f["FunctionName"]: f["Role"] for f in local.client("lambda").list_functions(MaxItems=200)["Functions"]
    }

    def may_put(source: str, role_arn: str) -> bool:
        patterns = exceptions[source]
        return any(
            fnmatch.fnmatchcase(role_arn, p) for p in ([patterns] if isinstance(patterns, str) else patterns)
        )

    # Then the app's sources are reserved and the tutorial's is not
    assert set(exceptions) == {"myapp.orders", "myapp.payments", "OnlineTrial"}
    # And a function's generated role name starts with its stack's name, so each stack's roles pass only
    # for the sources that stack produces
    by_stack = {
        stack: [role for name, role in roles.items() if name.startswith(f"{stack}-")]
        for stack in ("EventDriven-Orders", "EventDriven-Trials", "EventDriven-Signup")
    }
    assert all(by_stack.values()), by_stack
    assert all(
        may_put("myapp.orders", r) and may_put("myapp.payments", r) for r in by_stack["EventDriven-Orders"]
    )
    assert all(may_put("OnlineTrial", r) for r in by_stack["EventDriven-Trials"])
    assert not any(may_put("OnlineTrial", r) for r in by_stack["EventDriven-Orders"])
    assert not any(may_put(s, r) for s in exceptions for r in by_stack["EventDriven-Signup"])


def test_one_signups_trace_follows_its_event_id_from_the_default_bus_to_the_welcome_email(
    local: Local, notifications: str
) -> None:
    # Given a signup put on the default bus, as the tutorial does
    response = local.client("events").put_events(Entries=[TUTORIAL_ENTRY])
    local.settle()
    drain(local, notifications)
    event_id = response["Entries"][0]["EventId"]
    # When its trace is asked for by the event id put-events answered
    tree = flow(local, event_id)
    # Then the event on the default bus is the root, and its copy on the app's bus hangs under the
    # forwarding rule's target, where it reached the welcome-email function and the topic
    assert (tree["name"], tree["outcome"]) == (event_id, "ok")
    [root] = tree["children"]
    assert (root["kind"], root["bus"], root["id"]) == ("event", "default", event_id)
    forwarded = [e for e in nodes(root, "event") if e["bus"] != "default"]
    assert [e["id"] for e in forwarded] == [event_id]
    targets = {t["name"].split(":")[0]: t for t in nodes(forwarded[0], "target")}
    [welcome] = [i for i in nodes(targets["lambda"], "invocation") if "Welcome" in i["name"]]
    assert welcome["outcome"] == "ok" and welcome["durationMs"] > 0
    assert targets["sns"]["outcome"] == "delivered"
