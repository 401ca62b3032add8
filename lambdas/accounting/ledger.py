"""The Ledger adapter: the ledger table (PK `entryId`), written with a conditional put."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from accounting.service import LedgerEntry
from shared.dynamodb import is_condition_failure, to_item


class DynamoDBLedger:
    """Entries are written once: `attribute_not_exists(entryId)` turns a duplicate delivery into a no-op."""

    def __init__(self, client: Any, *, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def record(self, entry: LedgerEntry, *, at: str) -> bool:
        item = {
            "entryId": entry.entry_id,
            "orderId": entry.order_id,
            "customerId": entry.customer_id,
            "kind": entry.kind,
            "amountCents": entry.amount_cents,
            "currency": entry.currency,
            "eventId": entry.event_id,
            "eventTime": entry.event_time,
            "invoiceKey": entry.invoice_key,
            "recordedAt": at,
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item({k: v for k, v in item.items() if v is not None}),
                ConditionExpression="attribute_not_exists(entryId)",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True
