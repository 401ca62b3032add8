"""SQS and SNS handlers: queues, topics, their policies and subscriptions."""

from __future__ import annotations

from typing import Any

from localcloud.deploy.resources.common import (
    Created,
    ResourceCall,
    as_bool,
    as_json,
    as_text,
    tag_dict,
    tag_list,
)

SQS_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def sqs_queue(call: ResourceCall) -> Created:
    p = call.props
    fifo = as_bool(p.get("FifoQueue", False))
    name = p.get("QueueName") or (call.name(75) + ".fifo" if fifo else call.name(80))
    attributes = {k: as_text(p[k]) for k in SQS_QUEUE_ATTRIBUTES if p.get(k) is not None}
    params: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
    if p.get("Tags"):
        params["tags"] = tag_dict(p)
    sqs = call.client("sqs")
    url = sqs.create_queue(**params)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Created(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def sqs_queue_policy(call: ResourceCall) -> Created:
    policy = as_json(call.props["PolicyDocument"])
    for url in call.props.get("Queues") or []:
        call.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return Created(call.name(128))


SNS_TOPIC_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DisplayName",
    "FifoTopic",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
)


def sns_topic(call: ResourceCall) -> Created:
    p = call.props
    fifo = as_bool(p.get("FifoTopic", False))
    name = p.get("TopicName") or (call.name(251) + ".fifo" if fifo else call.name(256))
    attributes = {k: as_text(p[k]) for k in SNS_TOPIC_ATTRIBUTES if p.get(k) is not None}
    params: dict[str, Any] = {"Name": name, "Attributes": attributes}
    if p.get("Tags"):
        params["Tags"] = tag_list(p)
    sns = call.client("sns")
    arn = sns.create_topic(**params)["TopicArn"]
    for subscription in p.get("Subscription") or []:
        sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
    if p.get("DeliveryStatusLogging") or p.get("DataProtectionPolicy"):
        call.note("DeliveryStatusLogging/DataProtectionPolicy are not applied locally")
    return Created(arn, {"TopicArn": arn, "TopicName": name})


def sns_topic_policy(call: ResourceCall) -> Created:
    policy = as_json(call.props["PolicyDocument"])
    for arn in call.props.get("Topics") or []:
        call.client("sns").set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy)
    return Created(call.name(128))


SNS_SUBSCRIPTION_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "ReplayPolicy",
    "SubscriptionRoleArn",
)


def sns_subscription(call: ResourceCall) -> Created:
    p = call.props
    attributes = {k: as_text(p[k]) for k in SNS_SUBSCRIPTION_ATTRIBUTES if p.get(k) is not None}
    arn = call.client("sns").subscribe(
        TopicArn=p["TopicArn"],
        Protocol=p["Protocol"],
        Endpoint=p.get("Endpoint", ""),
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return Created(arn, {"Arn": arn})
