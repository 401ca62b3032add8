"""Bridge (intake branch): a payment message naming a paymentRef gets its token from PaymentTokens.

OrderPlaced carries a paymentRef, never the token, so the workflow's message carries it too; this
reads the token (consistent read) just before the message is parsed, so the payment service keeps
working unchanged. The workflow branch replaces it with the payment service's own token lookup
(which also deletes the token once the charge is recorded).
"""

from __future__ import annotations

import json
import os
from typing import Any


def with_token(body: str, client_factory: Any) -> str:
    """The body with `paymentRef` swapped for its `paymentToken`; unchanged when there is nothing to swap
    (no ref, not JSON, or no such token: the parser then refuses the message as a poison one)."""
    try:
        message = json.loads(body)
    except ValueError:
        return body
    if (
        not isinstance(message, dict)
        or "paymentToken" in message
        or not isinstance(message.get("paymentRef"), str)
    ):
        return body
    item = (
        client_factory()
        .get_item(
            TableName=os.environ["PAYMENT_TOKENS_TABLE_NAME"],
            Key={"paymentRef": {"S": message["paymentRef"]}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if item is None or "S" not in item.get("token", {}):
        return body
    message.pop("paymentRef")
    message["paymentToken"] = item["token"]["S"]
    return json.dumps(message)
