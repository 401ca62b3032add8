"""Tests for localcloud's DynamoDB stream event source mappings: shards read in order, retried, bisected."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3

from localcloud.core.settings import REGION
from tests.unit.localcloud import sources_helpers
from tests.unit.localcloud.sources_helpers import (
    WAIT_SECONDS,
    Cloud,
    Outcome,
    create_function,
    create_queue,
    create_table,
    failing_on,
    keys_of,
    on_failure_messages,
    outcomes,
    put,
    streams_client,
)

cloud = sources_helpers.cloud


def test_stream_records_carry_insert_modify_remove_with_images(cloud: Cloud) -> None:
    # Given a table with a NEW_AND_OLD_IMAGES stream and a mapping from TRIM_HORIZON
    create_function(cloud.awslambda)
    stream_arn = create_table(cloud)
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="consumer", StartingPosition="TRIM_HORIZON"
    )

    # When an item is inserted, modified and deleted by a user
    put(cloud, "a", status={"S": "new"})
    put(cloud, "a", status={"S": "paid"})
    cloud.dynamodb.delete_item(TableName="items", Key={"pk": {"S": "a"}})
    cloud.settle()

    # Then the function received the three records in order, shaped as AWS sends them
    records = cloud.function.records
    assert [record["eventName"] for record in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = records
    assert insert["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "status": {"S": "new"}}
    assert "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["status"] == {"S": "new"}
    assert modify["dynamodb"]["NewImage"]["status"] == {"S": "paid"}
    assert remove["dynamodb"]["OldImage"]["status"] == {"S": "paid"}
    assert "NewImage" not in remove["dynamodb"]
    for record in records:
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventVersion"] == "1.1"
        assert record["awsRegion"] == REGION
        assert record["eventSourceARN"] == stream_arn
        assert record["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert abs(record["dynamodb"]["ApproximateCreationDateTime"] - time.time()) < 60
        assert record["dynamodb"]["SizeBytes"] > 0
        assert "userIdentity" not in record  # a user's delete has no service identity
    sequence_numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in records]
    assert sequence_numbers == sorted(set(sequence_numbers))


def test_latest_starting_position_skips_earlier_records(cloud: Cloud) -> None:
    # Given a stream with one record already written
    create_function(cloud.awslambda)
    stream_arn = create_table(cloud)
    put(cloud, "before")

    # When a LATEST mapping is created and another item is written
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="consumer", StartingPosition="LATEST"
    )
    put(cloud, "after")
    cloud.settle()

    # Then only the later record is delivered
    assert keys_of(cloud.function.records) == ["after"]


def test_filter_criteria_drop_records_no_filter_matches(cloud: Cloud) -> None:
    # Given a mapping that wants inserts, and removals only when TTL made them
    create_function(cloud.awslambda)
    stream_arn = create_table(cloud, ttl=True)
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        FilterCriteria={
            "Filters": [
                {"Pattern": json.dumps({"eventName": ["INSERT"]})},
                {"Pattern": json.dumps({"eventName": ["REMOVE"], "userIdentity": {"type": ["Service"]}})},
            ]
        },
    )

    # When items are inserted, modified, deleted by a user, and expired by TTL
    put(cloud, "expiring", expires={"N": str(int(cloud.clock.now()) + 100)})
    put(cloud, "kept")
    put(cloud, "kept", status={"S": "changed"})
    cloud.dynamodb.delete_item(TableName="items", Key={"pk": {"S": "kept"}})
    cloud.clock.advance(200)
    cloud.settle()

    # Then only the inserts and the TTL removal reached the function
    assert [(r["eventName"], keys_of([r])[0]) for r in cloud.function.records] == [
        ("INSERT", "expiring"),
        ("INSERT", "kept"),
        ("REMOVE", "expiring"),
    ]
    assert "filtered" in outcomes(cloud)


def test_failing_record_is_retried_then_reported_on_failure_and_the_shard_moves_on(cloud: Cloud) -> None:
    # Given a mapping of BatchSize 1 with 2 retries and an OnFailure queue, and a function failing on "bad"
    function_arn = create_function(cloud.awslambda)
    stream_arn = create_table(cloud)
    failure_url, failure_arn = create_queue(cloud, "stream-failures")
    cloud.function.script = failing_on("bad", "bad record")
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )

    # When three items are written, the second one poisonous
    for key in ("good-1", "bad", "good-2"):
        put(cloud, key)
    cloud.settle()

    # Then "bad" was tried three times (1 + 2 retries) and the records after it still flowed
    assert [keys_of(batch) for batch in cloud.function.batches] == [
        ["good-1"],
        ["bad"],
        ["bad"],
        ["bad"],
        ["good-2"],
    ]
    # And the OnFailure queue got AWS's record of the discarded batch
    bad_sequence = cloud.function.batches[1][0]["dynamodb"]["SequenceNumber"]
    (failure,) = on_failure_messages(cloud, failure_url)
    assert failure["requestContext"]["functionArn"] == function_arn
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["requestId"]
    assert failure["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert failure["version"] == "1.0"
    assert failure["timestamp"].endswith("Z")
    info = failure["DDBStreamBatchInfo"]
    assert info["shardId"].startswith("shardId-")
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == bad_sequence
    assert info["batchSize"] == 1
    assert info["streamArn"] == stream_arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert "sent to OnFailure" in outcomes(cloud)


def test_report_batch_item_failures_retries_from_the_first_failed_record(cloud: Cloud) -> None:
    # Given three records waiting behind a disabled mapping that reports "b" failed, with 1 retry
    create_function(cloud.awslambda)
    stream_arn = create_table(cloud)
    failure_url, failure_arn = create_queue(cloud, "stream-failures")
    mapping = cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        Enabled=False,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    for key in ("a", "b", "c"):
        put(cloud, key)

    def report_b(event: dict[str, Any]) -> Outcome:
        failed = [r["dynamodb"]["SequenceNumber"] for r in event["Records"] if keys_of([r]) == ["b"]]
        return Outcome(payload={"batchItemFailures": [{"itemIdentifier": s} for s in failed]})

    cloud.function.script = report_b

    # When the mapping is enabled
    cloud.awslambda.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    cloud.settle()

    # Then "a" was checkpointed and the retry started at "b"
    assert [keys_of(batch) for batch in cloud.function.batches] == [["a", "b", "c"], ["b", "c"]]
    # And the unprocessed suffix was reported, without a function error
    (failure,) = on_failure_messages(cloud, failure_url)
    sequence = {keys_of([r])[0]: r["dynamodb"]["SequenceNumber"] for r in cloud.function.batches[0]}
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == sequence["b"]
    assert failure["DDBStreamBatchInfo"]["endSequenceNumber"] == sequence["c"]
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 2
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}


def test_bisect_isolates_the_failing_record(cloud: Cloud) -> None:
    # Given four records behind a disabled mapping that bisects on error and never retries
    create_function(cloud.awslambda)
    stream_arn = create_table(cloud)
    failure_url, failure_arn = create_queue(cloud, "stream-failures")
    mapping = cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        Enabled=False,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    for key in ("a", "bad", "c", "d"):
        put(cloud, key)
    cloud.function.script = failing_on("bad")

    # When the mapping is enabled
    cloud.awslambda.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    cloud.settle()

    # Then the batch was halved until the bad record stood alone; only it was discarded
    assert [keys_of(batch) for batch in cloud.function.batches] == [
        ["a", "bad", "c", "d"],
        ["a", "bad"],
        ["a"],
        ["bad"],
        ["c", "d"],
    ]
    (failure,) = on_failure_messages(cloud, failure_url)
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    assert (
        failure["DDBStreamBatchInfo"]["startSequenceNumber"]
        == cloud.function.batches[3][0]["dynamodb"]["SequenceNumber"]
    )


def test_maximum_record_age_releases_a_shard_blocked_by_infinite_retries(cloud: Cloud) -> None:
    # Given a mapping with infinite retries but a 60 s maximum record age, and a function failing on "bad"
    create_function(cloud.awslambda)
    stream_arn = create_table(cloud)
    failure_url, failure_arn = create_queue(cloud, "stream-failures")
    cloud.function.script = failing_on("bad")
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    put(cloud, "bad")
    deadline = time.monotonic() + WAIT_SECONDS
    while len(cloud.function.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert keys_of(cloud.function.records[-1:]) == ["bad"]  # still blocked, retrying

    # When the record grows older than the maximum age, and a new record follows
    cloud.clock.advance(120)
    put(cloud, "good")
    cloud.settle()

    # Then the old record is reported as too old and the new one flows
    assert keys_of(cloud.function.records[-1:]) == ["good"]
    (failure,) = on_failure_messages(cloud, failure_url)
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"


def test_no_duplicate_stream_records_with_concurrent_writers(cloud: Cloud) -> None:
    # Given a mapping on a stream
    create_function(cloud.awslambda)
    stream_arn = create_table(cloud)
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="consumer", StartingPosition="TRIM_HORIZON"
    )

    # When eight writers put fifteen items each at the same time
    def writer(number: int) -> None:
        client = boto3.client("dynamodb", region_name=REGION)
        for index in range(15):
            client.put_item(TableName="items", Item={"pk": {"S": f"w{number}-{index}"}})

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cloud.settle()

    # Then every write reached the function exactly once, in sequence-number order
    keys = keys_of(cloud.function.records)
    assert sorted(keys) == sorted(f"w{n}-{i}" for n in range(8) for i in range(15))
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in cloud.function.records]
    assert sequence_numbers == sorted(set(sequence_numbers))
    # And the DynamoDB Streams API shows the same 120 distinct records
    streams = streams_client()
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert len({record["dynamodb"]["SequenceNumber"] for record in records}) == len(records) == 120
