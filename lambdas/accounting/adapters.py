"""The accounting service's AWS side: the ledger table (PK `entryId`) and the payments table (read only)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from accounting.service import LedgerEntry, PaymentFacts, UnconfirmedPayment
from shared.aws_errors import (
    REASON_CONDITIONAL_CHECK_FAILED,
    TRANSACTION_CANCELED,
    applied,
    cancellation_reasons,
    error_code,
)
from shared.dynamodb import from_item, to_item


class DynamoDBPayments:
    """The payment record of an order, read consistently: what the ledger trusts."""

    def __init__(self, client: Any, *, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, order_id: str) -> PaymentFacts | None:
        item = self._client.get_item(
            TableName=self._table, Key={"orderId": {"S": order_id}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        found = from_item(item)
        return PaymentFacts(
            order_id=found["orderId"],
            status=found["status"],
            charge_id=found.get("chargeId"),
            amount_cents=found.get("amountCents", 0),
            currency=found.get("currency"),
            refund_id=found.get("refundId"),
        )


class DynamoDBLedger:
    """Entries are written once: `attribute_not_exists(entryId)` turns a duplicate delivery into a no-op."""

    def __init__(self, client: Any, *, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def record_charge(self, entry: LedgerEntry, *, at: str) -> bool:
        return applied(
            self._client.put_item,
            TableName=self._table,
            Item=self._item(entry, at),
            ConditionExpression="attribute_not_exists(entryId)",
        )

    def record_refund(self, entry: LedgerEntry, *, charge_entry_id: str, at: str) -> bool:
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": {"entryId": {"S": charge_entry_id}},
                            "ConditionExpression": "attribute_exists(entryId)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": self._item(entry, at),
                            "ConditionExpression": "attribute_not_exists(entryId)",
                        }
                    },
                ]
            )
        except ClientError as error:
            if error_code(error) != TRANSACTION_CANCELED:
                raise
            reasons = cancellation_reasons(error)
            if reasons[:1] == [REASON_CONDITIONAL_CHECK_FAILED]:
                raise UnconfirmedPayment(f"no {charge_entry_id} in the ledger to refund against") from None
            if reasons[1:2] == [REASON_CONDITIONAL_CHECK_FAILED]:
                return False
            raise
        return True

    @staticmethod
    def _item(entry: LedgerEntry, at: str) -> dict[str, Any]:
        return to_item(
            {
                "entryId": entry.entry_id,
                "orderId": entry.order_id,
                "kind": entry.kind,
                "amountCents": entry.amount_cents,
                "currency": entry.currency,
                "reference": entry.reference,
                "eventId": entry.event_id,
                "recordedAt": at,
            }
        )
