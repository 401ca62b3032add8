"""Tests for localcloud's DynamoDB TTL: expired items deleted by the sweeper, with the service's identity."""

from __future__ import annotations

import time

import boto3
from moto import mock_aws

from localcloud.core.clock import Clock
from localcloud.core.scheduler import Scheduler
from localcloud.core.settings import ACCOUNT_ID, REGION, Settings
from localcloud.core.trace import Trace
from localcloud.sources.poller import EventSourcePoller
from tests.unit.localcloud import sources_helpers
from tests.unit.localcloud.sources_helpers import (
    WAIT_SECONDS,
    Cloud,
    FakeFunction,
    create_function,
    create_table,
    keys_of,
    put,
    streams_client,
)

cloud = sources_helpers.cloud


def test_ttl_expiry_removes_items_with_the_service_identity(cloud: Cloud) -> None:
    # Given a TTL table with an item expiring in an hour, and items TTL must leave alone
    create_function(cloud.awslambda)
    stream_arn = create_table(cloud, ttl=True)
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="consumer", StartingPosition="TRIM_HORIZON"
    )
    now = int(cloud.clock.now())
    put(cloud, "expiring", expires={"N": str(now + 3600)})
    put(cloud, "text-ttl", expires={"S": str(now - 10)})  # not a Number: never expires
    put(cloud, "ancient", expires={"N": str(now - 6 * 365 * 86_400)})  # over five years ago: ignored
    put(cloud, "user-deleted")
    put(cloud, "no-ttl")
    cloud.dynamodb.delete_item(TableName="items", Key={"pk": {"S": "user-deleted"}})
    cloud.settle()

    # When local time moves two hours on
    cloud.clock.advance(7200)
    cloud.settle()

    # Then the expired item is gone and its REMOVE carries the service identity; the user's has none
    assert "Item" not in cloud.dynamodb.get_item(TableName="items", Key={"pk": {"S": "expiring"}})
    removes = {keys_of([r])[0]: r for r in cloud.function.records if r["eventName"] == "REMOVE"}
    assert set(removes) == {"user-deleted", "expiring"}
    assert removes["expiring"]["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert removes["expiring"]["dynamodb"]["OldImage"]["expires"] == {"N": str(now + 3600)}
    assert "userIdentity" not in removes["user-deleted"]
    # And the items TTL ignores are still there
    for key in ("text-ttl", "ancient", "no-ttl"):
        assert "Item" in cloud.dynamodb.get_item(TableName="items", Key={"pk": {"S": key}})
    # And the Streams API shows the identity too
    streams = streams_client()
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    last = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"][-1]
    assert last["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}


def test_periodic_sweep_deletes_items_expired_by_wall_time() -> None:
    with mock_aws():
        # Given a poller sweeping every 50 ms and an item that expired ten seconds ago
        clock, scheduler, trace = Clock(), Scheduler(), Trace()
        poller = EventSourcePoller(
            Settings(fast=True),
            clock,
            scheduler,
            trace,
            FakeFunction(),
            ACCOUNT_ID,
            REGION,
            ttl_sweep_interval=0.05,
        )
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="sessions",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName="sessions", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
        )
        dynamodb.put_item(
            TableName="sessions", Item={"pk": {"S": "s"}, "expires": {"N": str(int(time.time()) - 10)}}
        )
        try:
            # When the poller runs without any clock change
            poller.start()
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline and not trace.records(kind="ttl"):
                time.sleep(0.01)

            # Then the sweep deleted the item
            assert "Item" not in dynamodb.get_item(TableName="sessions", Key={"pk": {"S": "s"}})
            assert "1 expired item(s)" in trace.records(kind="ttl")[0]["message"]
        finally:
            poller.stop()
            scheduler.stop()
