"""The payment service's AWS adapters: the payments table (PK `orderId`) and Step Functions task tokens."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from payment.service import PaymentRecord
from shared.dynamodb import error_code, from_item, is_condition_failure, to_item

# What Step Functions answers when nobody waits on a token any more.
GONE = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class DynamoDBPayments:
    """One item per order: orderId, status, chargeId, amountCents, currency, chargedAt, refundId..."""

    def __init__(self, client: Any, *, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, order_id: str) -> PaymentRecord | None:
        item = self._client.get_item(
            TableName=self._table, Key={"orderId": {"S": order_id}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        found = from_item(item)
        return PaymentRecord(
            order_id=found["orderId"],
            charge_id=found["chargeId"],
            amount_cents=found["amountCents"],
            currency=found["currency"],
            status=found["status"],
        )

    def record_charge(self, record: PaymentRecord, *, at: str) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "orderId": record.order_id,
                        "status": record.status,
                        "chargeId": record.charge_id,
                        "amountCents": record.amount_cents,
                        "currency": record.currency,
                        "chargedAt": at,
                    }
                ),
                ConditionExpression="attribute_not_exists(orderId)",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def mark_refunded(self, order_id: str, *, refund_id: str, at: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"orderId": {"S": order_id}},
                UpdateExpression="SET #status = :refunded, refundId = :refund_id, refundedAt = :at",
                ConditionExpression="#status = :charged",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {":refunded": "REFUNDED", ":charged": "CHARGED", ":refund_id": refund_id, ":at": at}
                ),
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True


class StepFunctionsTasks:
    """SendTaskHeartbeat / SendTaskSuccess / SendTaskFailure; a token nobody waits on answers False."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def heartbeat(self, token: str) -> bool:
        return self._send(self._client.send_task_heartbeat, taskToken=token)

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        return self._send(self._client.send_task_success, taskToken=token, output=json.dumps(output))

    def fail(self, token: str, *, error: str, cause: str) -> bool:
        # The API's limits: error <= 256, cause <= 32768 characters.
        return self._send(
            self._client.send_task_failure, taskToken=token, error=error[:256], cause=cause[:32768]
        )

    @staticmethod
    def _send(call: Any, **kwargs: Any) -> bool:
        try:
            call(**kwargs)
        except ClientError as error:
            if error_code(error) in GONE:
                return False
            raise
        return True
