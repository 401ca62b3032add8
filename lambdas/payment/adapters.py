"""The payment service's AWS adapters: the payments and PaymentTokens tables, Step Functions task
tokens, and the provider and bus the handlers are built with."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from payment.service import PaymentRecord, StoredToken
from shared.aws_errors import applied, error_code
from shared.dynamodb import from_item, to_item

# What Step Functions answers when nobody waits on a token any more.
GONE = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
_FIELDS = {
    "orderId": "order_id",
    "status": "status",
    "chargeId": "charge_id",
    "amountCents": "amount_cents",
    "currency": "currency",
    "chargedAt": "charged_at",
    "refundId": "refund_id",
    "refundedAt": "refunded_at",
}


class DynamoDBPayments:
    """One item per order (PK `orderId`): status CHARGED | REFUNDED | VOIDED, and the charge's facts."""

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
        return PaymentRecord(**{field: found[name] for name, field in _FIELDS.items() if name in found})

    def record_charge(self, record: PaymentRecord) -> bool:
        return self._put_new(record)

    def void(self, order_id: str, *, at: str) -> bool:
        return self._put_new(PaymentRecord(order_id=order_id, status="VOIDED", refunded_at=at))

    def mark_refunded(self, order_id: str, *, refund_id: str, at: str) -> bool:
        return self._update(
            order_id,
            "SET #status = :refunded, refundId = :refund_id, refundedAt = :at",
            expected="CHARGED",
            values={":refunded": "REFUNDED", ":refund_id": refund_id, ":at": at},
        )

    def refund_late_charge(self, record: PaymentRecord) -> bool:
        return self._update(
            record.order_id,
            "SET #status = :refunded, refundId = :refund_id, refundedAt = :at, chargeId = :charge_id, "
            "amountCents = :amount, currency = :currency, chargedAt = :charged_at",
            expected="VOIDED",
            values={
                ":refunded": "REFUNDED",
                ":refund_id": record.refund_id,
                ":at": record.refunded_at,
                ":charge_id": record.charge_id,
                ":amount": record.amount_cents,
                ":currency": record.currency,
                ":charged_at": record.charged_at,
            },
        )

    def _put_new(self, record: PaymentRecord) -> bool:
        item = {name: getattr(record, field) for name, field in _FIELDS.items()}
        return applied(
            self._client.put_item,
            TableName=self._table,
            Item=to_item({k: v for k, v in item.items() if v is not None}),
            ConditionExpression="attribute_not_exists(orderId)",
        )

    def _update(self, order_id: str, expression: str, *, expected: str, values: dict[str, Any]) -> bool:
        return applied(
            self._client.update_item,
            TableName=self._table,
            Key={"orderId": {"S": order_id}},
            UpdateExpression=expression,
            ConditionExpression="#status = :expected",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({**values, ":expected": expected}),
        )


class DynamoDBPaymentTokens:
    """PaymentTokens (PK `paymentRef`): `{paymentRef, orderId, token, expiresAt}`, written by intake."""

    def __init__(self, client: Any, *, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, payment_ref: str) -> StoredToken | None:
        item = self._client.get_item(
            TableName=self._table,
            Key={"paymentRef": {"S": payment_ref}},
            ConsistentRead=True,
            ProjectionExpression="orderId, #token",
            ExpressionAttributeNames={"#token": "token"},
        ).get("Item")
        if not item or "S" not in item.get("orderId", {}) or "S" not in item.get("token", {}):
            return None
        return StoredToken(order_id=item["orderId"]["S"], token=item["token"]["S"])

    def delete(self, payment_ref: str) -> None:
        self._client.delete_item(TableName=self._table, Key={"paymentRef": {"S": payment_ref}})


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
