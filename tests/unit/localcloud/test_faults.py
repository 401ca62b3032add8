"""Tests for the fault switch: faults set up as data through `/_localcloud/faults`, as a fault suite would."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.unit.localcloud.running_cloud import Cloud, running_cloud

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("state")) as running:
        running.create_function("target", "lambda_alpha")
        yield running


@pytest.fixture(autouse=True)
def no_faults_left(cloud: Cloud) -> Iterator[None]:
    yield
    faults(cloud, "DELETE")


def faults(cloud: Cloud, method: str, body: Any = None, query: str = "") -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{cloud.endpoint}/_localcloud/faults{query}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def starts(cloud: Cloud, function: str) -> int:
    return sum(m.startswith("START RequestId") for m in cloud.log_messages(function))


def test_a_function_fails_as_many_times_as_asked_then_runs(cloud: Cloud) -> None:
    # Given a fault: the function fails twice with a given error
    status, body = faults(
        cloud,
        "POST",
        {"faults": [{"function": "target", "effect": "error", "errorType": "Boom", "times": 2}]},
    )
    since = cloud.cloud.trace.last

    # When it is invoked three times
    results = [cloud.invoke("target", {"n": n}) for n in range(3)]

    # Then the first two failed with that error, without running, and the third ran
    assert status == 201 and body["faults"][0]["effect"] == "error"
    assert [r.get("FunctionError") for r, _ in results] == ["Unhandled", "Unhandled", None]
    assert [b.get("errorType") for _, b in results[:2]] == ["Boom", "Boom"]
    assert results[2][1]["common"] == "alpha"
    hits = [r for r in cloud.cloud.trace.records(since=since, kind="fault")]
    assert len(hits) == 2 and all("error on function target" in r["message"] for r in hits)


def test_a_function_is_throttled_or_times_out(cloud: Cloud) -> None:
    # Given faults: one throttle, then one timeout
    faults(
        cloud,
        "POST",
        [
            {"function": "target", "effect": "throttle", "times": 1},
            {"function": "target", "effect": "timeout", "times": 1},
        ],
    )

    # When the function is invoked twice
    with pytest.raises(ClientError) as throttled:
        cloud.invoke("target")
    response, body = cloud.invoke("target")

    # Then the first call is refused as Lambda refuses it, the second times out as Lambda reports it
    assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert response["FunctionError"] == "Unhandled" and body["errorType"] == "Sandbox.Timedout"


def test_put_events_entries_fail_with_internal_failure(cloud: Cloud) -> None:
    # Given a fault: one PutEvents entry fails
    faults(cloud, "POST", [{"service": "events", "operation": "PutEvents", "effect": "fail", "times": 1}])
    entry = {"Source": "test.faults", "DetailType": "Tried", "Detail": "{}"}

    # When two entries are put
    result = cloud.client("events").put_events(Entries=[entry, entry])

    # Then the first failed alone, as AWS reports a failed entry, and the second went through
    assert result["FailedEntryCount"] == 1
    assert result["Entries"][0]["ErrorCode"] == "InternalFailure"
    assert "EventId" in result["Entries"][1]


def test_a_rule_target_gets_each_event_twice(cloud: Cloud) -> None:
    # Given a rule delivering to a queue, and a fault duplicating its deliveries
    events, sqs = cloud.client("events"), cloud.client("sqs")
    url = sqs.create_queue(QueueName="twice")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:twice"
    events.put_rule(Name="to-twice", EventPattern=json.dumps({"source": ["test.twice"]}))
    events.put_targets(Rule="to-twice", Targets=[{"Id": "queue", "Arn": arn}])
    faults(cloud, "POST", [{"rule": "to-twice", "target": "queue", "effect": "duplicate"}])

    # When one event is put
    events.put_events(Entries=[{"Source": "test.twice", "DetailType": "Once", "Detail": "{}"}])
    cloud.settle()

    # Then the queue holds it twice
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "2"


def test_a_queue_delivers_each_batch_twice(cloud: Cloud) -> None:
    # Given a queue consumed by a function, and a fault duplicating the queue's deliveries
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName="dup-source")["QueueUrl"]
    cloud.create_function("consumer", "lambda_alpha")
    cloud.client("lambda").create_event_source_mapping(
        FunctionName="consumer", EventSourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:dup-source", BatchSize=1
    )
    faults(cloud, "POST", [{"queue": url, "effect": "duplicate", "times": 1}])

    # When one message is sent
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    cloud.settle()

    # Then the function ran twice for it, and the message is gone
    assert starts(cloud, "consumer") == 2
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )


def test_a_stream_delivers_each_batch_twice(cloud: Cloud) -> None:
    # Given a table whose stream feeds a function, and a fault duplicating the stream's deliveries
    dynamodb = cloud.client("dynamodb")
    stream = dynamodb.create_table(
        TableName="dup-table",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    cloud.create_function("stream-consumer", "lambda_alpha")
    cloud.client("lambda").create_event_source_mapping(
        FunctionName="stream-consumer", EventSourceArn=stream, StartingPosition="TRIM_HORIZON"
    )
    faults(cloud, "POST", [{"stream": "dup-table", "effect": "duplicate"}])

    # When one item is written
    dynamodb.put_item(TableName="dup-table", Item={"id": {"S": "1"}})
    cloud.settle()

    # Then the function got its record twice
    assert starts(cloud, "stream-consumer") == 2


def test_an_operation_gets_extra_latency(cloud: Cloud) -> None:
    # Given a fault: DynamoDB ListTables answers half a second late
    dynamodb = cloud.client("dynamodb")
    faults(
        cloud,
        "POST",
        [{"service": "dynamodb", "operation": "ListTables", "effect": "latency", "seconds": 0.5}],
    )

    # When it is called
    started = time.monotonic()
    dynamodb.list_tables()

    # Then it took at least that long
    assert time.monotonic() - started >= 0.5


def test_faults_are_listed_cleared_and_bad_ones_refused(cloud: Cloud) -> None:
    # Given two faults set up
    _, added = faults(
        cloud, "POST", [{"function": "target", "effect": "throttle"}, {"queue": "q", "effect": "duplicate"}]
    )

    # When one is cleared by id, then a bad fault is sent
    listed_before = faults(cloud, "GET")[1]["faults"]
    faults(cloud, "DELETE", query=f"?id={added['faults'][0]['id']}")
    listed_after = faults(cloud, "GET")[1]["faults"]
    status, error = faults(cloud, "POST", [{"function": "target", "effect": "duplicate"}])

    # Then the list follows, and the bad fault is refused with the reason
    assert len(listed_before) == 2 and [f["kind"] for f in listed_after] == ["queue"]
    assert status == 400 and "effect is one of" in error["error"]


def test_a_rule_target_that_fails_parks_the_event_in_its_dlq(cloud: Cloud) -> None:
    # Given a rule delivering to a queue, with a DLQ and a short retry policy, and a fault failing it
    events, sqs = cloud.client("events"), cloud.client("sqs")
    sqs.create_queue(QueueName="fails-target")
    dlq_url = sqs.create_queue(QueueName="fails-dlq")["QueueUrl"]
    events.put_rule(Name="to-fails", EventPattern=json.dumps({"source": ["test.fails"]}))
    target = {
        "Id": "queue",
        "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:fails-target",
        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
        "DeadLetterConfig": {"Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:fails-dlq"},
    }
    events.put_targets(Rule="to-fails", Targets=[target])
    faults(
        cloud,
        "POST",
        [
            {
                "rule": "to-fails",
                "target": "queue",
                "effect": "fail",
                "errorCode": "Throttling",
                "errorMessage": "x",
            }
        ],
    )

    # When one event is put
    events.put_events(Entries=[{"Source": "test.fails", "DetailType": "Parked", "Detail": "{}"}])
    cloud.settle()

    # Then it is in the DLQ after its retries, with the attributes EventBridge sets
    [message] = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    attributes = {key: value["StringValue"] for key, value in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "Throttling" and attributes["ERROR_MESSAGE"] == "x"
    assert attributes["RULE_ARN"].endswith(":rule/to-fails") and attributes["TARGET_ARN"] == target["Arn"]
    assert (
        attributes["RETRY_ATTEMPTS"] == "2"
        and attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    )
    assert json.loads(message["Body"])["detail-type"] == "Parked"
