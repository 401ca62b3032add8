"""The intake branch's bridge: a payment message with a paymentRef gets its token from PaymentTokens."""

from __future__ import annotations

import json

import boto3
import pytest

from payment.token_bridge import with_token
from tests.handlers.orders_conftest_helpers import create_table

REF = "pay_" + "ab" * 16


@pytest.fixture
def tokens(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    create_table("payment-tokens", "paymentRef")
    boto3.client("dynamodb").put_item(
        TableName="payment-tokens", Item={"paymentRef": {"S": REF}, "token": {"S": "tok_declined"}}
    )
    monkeypatch.setenv("PAYMENT_TOKENS_TABLE_NAME", "payment-tokens")


def test_a_reference_becomes_its_token(tokens: None) -> None:
    body = json.dumps({"orderId": "o", "paymentRef": REF})
    assert json.loads(with_token(body, lambda: boto3.client("dynamodb"))) == {
        "orderId": "o",
        "paymentToken": "tok_declined",
    }


@pytest.mark.parametrize(
    "body",
    ["{not json", json.dumps({"paymentToken": "tok_visa"}), json.dumps({"paymentRef": "pay_" + "0" * 32})],
    ids=["not-json", "token-already", "unknown-ref"],
)
def test_anything_else_is_left_for_the_parser(tokens: None, body: str) -> None:
    assert with_token(body, lambda: boto3.client("dynamodb")) == body
