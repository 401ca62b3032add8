"""Tests for the event source poller's hold on moto: moto's synchronous invocations off while it runs."""

from __future__ import annotations

import threading

from localcloud.core.settings import ACCOUNT_ID, REGION
from tests.unit.localcloud import sources_helpers
from tests.unit.localcloud.sources_helpers import (
    WAIT_SECONDS,
    Cloud,
    create_function,
    create_queue,
    running_cloud,
)

cloud = sources_helpers.cloud


def test_moto_synchronous_invoke_is_off_while_the_poller_runs() -> None:
    # The scheduler now runs jobs on a pool of runners: this test gives it only one, to keep it busy.
    with running_cloud(max_runners=1) as cloud:
        # Given a mapping, and the scheduler's only runner kept busy
        create_function(cloud.awslambda)
        url, queue_arn = create_queue(cloud, "orders")
        cloud.awslambda.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="consumer")
        cloud.settle()
        release = threading.Event()

        def hold_the_runner() -> None:
            release.wait(WAIT_SECONDS)

        cloud.scheduler.submit(hold_the_runner, name="hold the runner")
        try:
            # When a message is sent
            cloud.sqs.send_message(QueueUrl=url, MessageBody="hello")

            # Then sending invoked nothing: the message waits in the queue, never received
            assert cloud.function.calls == []
            attributes = cloud.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"
        finally:
            release.set()
        # And once the poller runs, it is delivered once
        cloud.settle()
        assert [record["body"] for record in cloud.function.records] == ["hello"]
        assert cloud.function.records[0]["attributes"]["ApproximateReceiveCount"] == "1"


def test_stop_restores_moto(cloud: Cloud) -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.dynamodb.models.table import StreamShard
    from moto.sqs.models import Queue

    # Given a running poller: moto's methods are patched
    patched = (Queue.add_message, StreamShard.add, LambdaBackend.create_event_source_mapping)
    _, queue_arn = create_queue(cloud, "orders")
    create_function(cloud.awslambda)
    cloud.awslambda.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="consumer")

    # When it stops
    cloud.poller.stop()

    # Then moto's own methods are back, and queues still know their mappings
    assert Queue.add_message is not patched[0]
    assert StreamShard.add is not patched[1]
    assert LambdaBackend.create_event_source_mapping is not patched[2]
    assert "lambda_event_source_mappings" not in vars(Queue)
    from moto.sqs.models import sqs_backends

    assert len(sqs_backends[ACCOUNT_ID][REGION].queues["orders"].lambda_event_source_mappings) == 1
