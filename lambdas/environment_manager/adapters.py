"""The environment manager's ports on AWS: CloudFormation stacks, S3 buckets, the trials table, EMF."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from environment_manager.service import StackState
from environment_manager.trials import TrialRecord
from shared.aws_errors import (
    ALREADY_EXISTS,
    NO_SUCH_BUCKET,
    VALIDATION_ERROR,
    applied,
    error_code,
)

BUCKET_OUTPUT = "BucketName"
MAX_DELETE = 1000  # DeleteObjects' limit per request


class CloudFormationStacks:
    """One stack per environment, created by CloudFormation with `role_arn`, not with the caller's role."""

    def __init__(self, client: Any, *, template_body: str, role_arn: str) -> None:
        self._client = client
        self._template_body = template_body
        self._role_arn = role_arn

    def create(self, *, stack_name: str, environment_id: str) -> bool:
        try:
            self._client.create_stack(
                StackName=stack_name,
                TemplateBody=self._template_body,
                Parameters=[{"ParameterKey": "TrialEnvironmentId", "ParameterValue": environment_id}],
                Tags=[{"Key": "TrialEnvironmentId", "Value": environment_id}],
                RoleARN=self._role_arn,
            )
        except ClientError as error:
            if error_code(error) == ALREADY_EXISTS:
                return False
            raise
        return True

    def delete(self, stack_name: str) -> None:
        # A missing stack is a success for CloudFormation too.
        self._client.delete_stack(StackName=stack_name, RoleARN=self._role_arn)

    def state(self, stack_name: str) -> StackState | None:
        try:
            [stack] = self._client.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            # A deleted stack is not found by name: CloudFormation answers ValidationError "does not exist".
            if error_code(error) == VALIDATION_ERROR and "does not exist" in str(error):
                return None
            raise
        outputs = {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs", [])}
        return StackState(
            status=stack["StackStatus"],
            reason=stack.get("StackStatusReason", ""),
            bucket=outputs.get(BUCKET_OUTPUT),
        )


class S3Buckets:
    """Empties trial buckets with ListObjectsV2 and DeleteObjects: `s3:ListBucket` and `s3:DeleteObject`
    only. The template's bucket is not versioned; a versioned one would need ListObjectVersions and
    `s3:DeleteObjectVersion` as well."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def empty(self, bucket: str) -> int:
        deleted = 0
        for keys in self._pages(bucket):
            response = self._client.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
            )
            if response.get("Errors"):
                codes = sorted({e.get("Code", "?") for e in response["Errors"]})
                raise RuntimeError(
                    f"{len(response['Errors'])} objects not deleted from a trial bucket: {codes}"
                )
            deleted += len(keys)
        return deleted

    def _pages(self, bucket: str) -> Iterator[list[str]]:
        request: dict[str, Any] = {"Bucket": bucket, "MaxKeys": MAX_DELETE}
        while True:
            try:
                response = self._client.list_objects_v2(**request)
            except ClientError as error:
                if error_code(error) == NO_SUCH_BUCKET:
                    return
                raise
            keys = [o["Key"] for o in response.get("Contents", [])]
            if keys:
                yield keys
            if not response.get("IsTruncated"):
                return
            request["ContinuationToken"] = response["NextContinuationToken"]


class DynamoDbTrialsTable:
    """Trial rows keyed by `trialId`; the `byStatus` index (status, requestedAt) finds stuck ones."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, trial_id: str) -> TrialRecord | None:
        item = self._client.get_item(
            TableName=self._table,
            Key={"trialId": {"S": trial_id}},
            ConsistentRead=True,
            ProjectionExpression="#status, expiresAt",
            ExpressionAttributeNames={"#status": "status"},
        ).get("Item")
        if item is None:
            return None
        return TrialRecord(status=item["status"]["S"], expires_at=int(item["expiresAt"]["N"]))

    def mark_failed(self, trial_id: str) -> bool:
        return self._update(
            trial_id,
            "SET #status = :failed",
            # `attribute_exists`: an update of a row TTL already removed would create a stub row.
            "attribute_exists(trialId) AND #status IN (:requested, :attention)",
            {
                ":failed": {"S": "FAILED"},
                ":requested": {"S": "REQUESTED"},
                ":attention": {"S": "NEEDS_ATTENTION"},
            },
        )

    def requested_before(self, requested_at: int) -> Iterator[str]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byStatus",
            "KeyConditionExpression": "#status = :requested AND requestedAt < :before",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":requested": {"S": "REQUESTED"},
                ":before": {"N": str(requested_at)},
            },
        }
        while True:
            response = self._client.query(**request)
            for item in response.get("Items", []):
                yield item["trialId"]["S"]
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def mark_needs_attention(self, trial_id: str, *, requested_before: int, reason: str) -> bool:
        return self._update(
            trial_id,
            "SET #status = :attention, reason = :reason",
            "#status = :requested AND requestedAt < :before",
            {
                ":attention": {"S": "NEEDS_ATTENTION"},
                ":requested": {"S": "REQUESTED"},
                ":before": {"N": str(requested_before)},
                ":reason": {"S": reason},
            },
        )

    def _update(self, trial_id: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        return applied(
            self._client.update_item,
            TableName=self._table,
            Key={"trialId": {"S": trial_id}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )


class EmfMetrics:
    """One EMF log line per metric: CloudWatch turns it into the metric, no API call, no import cost."""

    def __init__(self, *, namespace: str, service: str) -> None:
        self._namespace = namespace
        self._service = service

    def count(self, name: str, value: int) -> None:
        print(
            json.dumps(
                {
                    "_aws": {
                        "Timestamp": int(time.time() * 1000),
                        "CloudWatchMetrics": [
                            {
                                "Namespace": self._namespace,
                                "Dimensions": [["service"]],
                                "Metrics": [{"Name": name, "Unit": "Count"}],
                            }
                        ],
                    },
                    "service": self._service,
                    name: value,
                }
            ),
            flush=True,
        )
