"""Order intake's pure service, with fakes: the customer, catalogue prices, idempotent placing, reads."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from orders_api.config import load
from orders_api.service import (
    Caller,
    CatalogueItem,
    Forbidden,
    IdempotencyConflict,
    InvalidOrder,
    NewOrder,
    OrderExists,
    caller_from,
    customer_for,
    get_order,
    new_payment_ref,
    order_id_for,
    place_order,
    price_lines,
    request_digest,
)
from shared.contracts.orders import UUID_PATTERN, PlaceOrderRequest
from shared.settings import SettingsError

ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"
NOW = "2026-11-22T10:00:00.000Z"
NOW_EPOCH = 1795341600  # NOW in epoch seconds
PAYMENT_REF = "pay_" + "ab" * 16
SERVICE = Caller(id="arn:aws:iam::123456789012:user/shop-frontend", is_person=False)
PERSON = Caller(id="us-east-1:7d3c1b2a-5e4f-4a6b-8c9d-0e1f2a3b4c5d", is_person=True)
REQUEST = PlaceOrderRequest.model_validate(
    {
        "lines": [{"sku": "BOOK-0001", "quantity": 2}, {"sku": "MUG-0042", "quantity": 1}],
        "currency": "EUR",
        "paymentToken": "tok_visa",
    }
)


def now() -> str:
    return NOW


class FakeOrders:
    """The orders and tokens tables: a create that refuses a taken id, a read of the whole item."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}

    def create(self, order: NewOrder) -> None:
        if order.order_id in self.items:
            raise OrderExists(order.order_id)
        self.items[order.order_id] = order.item()
        self.tokens[order.payment_ref] = order.token_item()

    def get(self, order_id: str) -> dict[str, Any] | None:
        return self.items.get(order_id)


class FakeCatalogue:
    def __init__(self, items: dict[str, tuple[Any, Any]]) -> None:
        self.items_by_sku = {
            sku: CatalogueItem(sku, price, currency) for sku, (price, currency) in items.items()
        }
        self.asked: list[list[str]] = []

    def items(self, skus: Sequence[str]) -> Mapping[str, CatalogueItem]:
        self.asked.append(list(skus))
        return {sku: self.items_by_sku[sku] for sku in skus if sku in self.items_by_sku}


CATALOGUE = {"BOOK-0001": (1250, "EUR"), "MUG-0042": (899, "EUR")}


def place(request: PlaceOrderRequest = REQUEST, caller: Caller = SERVICE, **kwargs: Any) -> dict[str, str]:
    kwargs.setdefault("orders", FakeOrders())
    kwargs.setdefault("catalogue", FakeCatalogue(CATALOGUE))
    return place_order(
        request,
        caller,
        token_ttl_seconds=86400,
        now=now,
        new_id=lambda: ORDER_ID,
        new_ref=lambda: PAYMENT_REF,
        **kwargs,
    )


# -- who the customer is ---------------------------------------------------------------------------


def test_a_cognito_identity_is_the_caller_whatever_role_it_came_through() -> None:
    identity = {
        "cognitoIdentityId": PERSON.id,
        "userArn": "arn:aws:sts::123456789012:assumed-role/Cognito_ShopAuth_Role/CognitoIdentityCredentials",
    }
    assert caller_from(identity) == PERSON


@pytest.mark.parametrize(
    ("user_arn", "caller_id"),
    [
        ("arn:aws:iam::123456789012:user/shop-frontend", "arn:aws:iam::123456789012:user/shop-frontend"),
        ("arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:root"),
        # Every session of a role is the same caller: the session name is dropped.
        (
            "arn:aws:sts::123456789012:assumed-role/checkout/i-0abc123",
            "arn:aws:sts::123456789012:assumed-role/checkout",
        ),
    ],
)
def test_a_service_principal_is_the_caller_by_its_arn(user_arn: str, caller_id: str) -> None:
    assert caller_from({"cognitoIdentityId": None, "userArn": user_arn}) == Caller(caller_id, is_person=False)


@pytest.mark.parametrize(
    "identity", [None, {}, {"userArn": None, "cognitoIdentityId": None}, {"userArn": ""}]
)
def test_an_identity_naming_nobody_is_no_caller(identity: Any) -> None:
    assert caller_from(identity) is None


def test_the_customer_is_the_caller_or_whom_a_service_acts_for() -> None:
    assert customer_for(SERVICE, None) == SERVICE.id
    assert customer_for(PERSON, None) == PERSON.id
    assert customer_for(SERVICE, "customer-0001") == "customer-0001"


def test_a_person_cannot_act_for_someone_else() -> None:
    with pytest.raises(Forbidden) as error:
        customer_for(PERSON, "customer-0001")
    assert "customer-0001" not in str(error.value)


# -- prices ----------------------------------------------------------------------------------------


def test_lines_are_priced_from_the_catalogue_in_one_read() -> None:
    catalogue = FakeCatalogue(CATALOGUE)
    lines = price_lines(REQUEST, catalogue)
    assert [(line.sku, line.quantity, line.unitPriceCents) for line in lines] == [
        ("BOOK-0001", 2, 1250),
        ("MUG-0042", 1, 899),
    ]
    assert catalogue.asked == [["BOOK-0001", "MUG-0042"]]


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        (None, "unknown sku"),
        ((None, "EUR"), "this sku has no price"),
        (("12", "EUR"), "this sku has no price"),  # stored as a string
        ((True, "EUR"), "this sku has no price"),
        ((-1, "EUR"), "this sku has no price"),
        ((10_000_001, "EUR"), "this sku has no price"),
        ((899, "USD"), "this sku is not sold in the order's currency"),
        ((899, None), "this sku is not sold in the order's currency"),
    ],
)
def test_a_line_the_catalogue_cannot_price_is_refused_by_position(entry: Any, error: str) -> None:
    # Given a catalogue where the second SKU is unknown, unpriced, or in another currency
    items = {"BOOK-0001": CATALOGUE["BOOK-0001"]} | ({"MUG-0042": entry} if entry else {})
    # When the request is priced
    with pytest.raises(InvalidOrder) as refused:
        price_lines(REQUEST, FakeCatalogue(items))
    # Then the line is named by its position, with the reason and no value
    assert [(e.field, e.error) for e in refused.value.errors] == [("lines.1.sku", error)]


def test_a_free_item_costs_nothing() -> None:
    lines = price_lines(REQUEST, FakeCatalogue({"BOOK-0001": (0, "EUR"), "MUG-0042": (0, "EUR")}))
    assert sum(line.unitPriceCents for line in lines) == 0


# -- placing ---------------------------------------------------------------------------------------


def test_an_order_is_stored_pending_with_its_token_apart() -> None:
    # Given empty tables
    orders = FakeOrders()
    # When a service places an order
    result = place(orders=orders)
    # Then it is stored PENDING for the caller, at catalogue prices, with a payment reference
    assert result == {"orderId": ORDER_ID, "status": "PENDING"}
    item = orders.items[ORDER_ID]
    assert (item["status"], item["customerId"], item["placedBy"]) == ("PENDING", SERVICE.id, SERVICE.id)
    assert (item["totalCents"], item["paymentRef"], item["createdAt"]) == (3399, PAYMENT_REF, NOW)
    assert "tok_visa" not in repr(item)
    # And the token is under that reference, kept for the TTL
    assert orders.tokens[PAYMENT_REF] == {
        "paymentRef": PAYMENT_REF,
        "orderId": ORDER_ID,
        "token": "tok_visa",
        "expiresAt": NOW_EPOCH + 86400,
    }


def test_nothing_is_stored_when_the_catalogue_refuses_a_line() -> None:
    orders = FakeOrders()
    with pytest.raises(InvalidOrder):
        place(orders=orders, catalogue=FakeCatalogue({"BOOK-0001": (1250, "EUR")}))
    assert orders.items == {} and orders.tokens == {}


def test_a_person_acting_for_someone_else_stores_nothing() -> None:
    orders = FakeOrders()
    with pytest.raises(Forbidden):
        place(REQUEST.model_copy(update={"onBehalfOf": "customer-0001"}), PERSON, orders=orders)
    assert orders.items == {}


def test_an_idempotent_retry_that_finds_its_order_stored_gets_it_back() -> None:
    # Given an order stored under the id of (caller, key), by an attempt that then died
    orders = FakeOrders()
    order_id = order_id_for(SERVICE, "key-1")
    place(orders=orders, order_id=order_id)
    orders.items[order_id]["status"] = "PROCESSING"
    # When the same request is retried with the same key
    again = place(orders=orders, order_id=order_id)
    # Then it gets that order (as it is now), and nothing new is stored
    assert again == {"orderId": order_id, "status": "PROCESSING"}
    assert len(orders.items) == 1 and len(orders.tokens) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"lines": [{"sku": "BOOK-0001", "quantity": 1}]},
        {"currency": "USD"},
        {"onBehalfOf": "customer-0001"},
    ],
)
def test_an_idempotent_retry_with_another_request_is_a_conflict(change: dict[str, Any]) -> None:
    orders = FakeOrders()
    order_id = order_id_for(SERVICE, "key-1")
    place(orders=orders, order_id=order_id)
    other = PlaceOrderRequest.model_validate({**REQUEST.model_dump(), **change})
    catalogue = (
        FakeCatalogue({sku: (price, "USD") for sku, (price, _) in CATALOGUE.items()})
        if "currency" in change
        else None
    )
    with pytest.raises(IdempotencyConflict):
        place(other, orders=orders, order_id=order_id, **({"catalogue": catalogue} if catalogue else {}))
    assert len(orders.items) == 1


def test_a_retry_with_a_fresh_payment_token_is_the_same_request() -> None:
    # The token is not part of what a retry must repeat: only its own table holds it, not even hashed.
    other = REQUEST.model_copy(update={"paymentToken": "tok_other"})
    assert request_digest(other) == request_digest(REQUEST)


def test_an_order_id_is_per_caller_and_key_and_a_uuid() -> None:
    ids = {
        order_id_for(SERVICE, "key-1"),
        order_id_for(SERVICE, "key-2"),
        order_id_for(PERSON, "key-1"),
        order_id_for(Caller(SERVICE.id + "x", is_person=False), "key-1"),
    }
    assert len(ids) == 4
    assert order_id_for(SERVICE, "key-1") == order_id_for(SERVICE, "key-1")
    assert all(re.fullmatch(UUID_PATTERN, order_id) for order_id in ids)


def test_a_payment_reference_is_pay_and_32_hex_digits_and_never_repeats() -> None:
    refs = {new_payment_ref() for _ in range(100)}
    assert len(refs) == 100 and all(re.fullmatch(r"pay_[0-9a-f]{32}", ref) for ref in refs)


# -- reading ---------------------------------------------------------------------------------------


def test_the_customer_and_the_placer_read_the_order_and_nobody_else() -> None:
    # Given an order a service placed for a customer
    orders = FakeOrders()
    place(REQUEST.model_copy(update={"onBehalfOf": "customer-0001"}), SERVICE, orders=orders)
    customer = Caller("customer-0001", is_person=True)
    # Then the customer and the service read it; another caller finds nothing
    for reader in (customer, SERVICE):
        view = get_order(ORDER_ID, reader, orders=orders)
        assert view is not None and view["customerId"] == "customer-0001"
        assert "paymentRef" not in view and "placedBy" not in view and "requestDigest" not in view
    assert get_order(ORDER_ID, PERSON, orders=orders) is None


@pytest.mark.parametrize(
    "order_id",
    ["0b7e0c8a-1d2f-4e3a-9b8c-7d6e5f4a3b21", "not-an-id", "../etc/passwd", ORDER_ID.upper(), "a" * 5000],
)
def test_an_unknown_or_malformed_order_id_is_not_found(order_id: str) -> None:
    orders = FakeOrders()
    place(orders=orders)
    assert get_order(order_id, SERVICE, orders=orders) is None


# -- config ----------------------------------------------------------------------------------------

ENVIRONMENT = {
    "ORDERS_TABLE_NAME": "orders",
    "PAYMENT_TOKENS_TABLE_NAME": "tokens",
    "INVENTORY_TABLE_NAME": "inventory",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "IDEMPOTENCY_EXPIRY_SECONDS": "86400",
    "PAYMENT_TOKEN_TTL_SECONDS": "86400",
}


def test_the_config_reads_every_setting() -> None:
    config = load(ENVIRONMENT)
    assert (config.orders_table_name, config.payment_tokens_table_name, config.payment_token_ttl_seconds) == (
        "orders",
        "tokens",
        86400,
    )


def test_a_missing_or_bad_setting_fails_naming_each() -> None:
    environment = {**ENVIRONMENT, "PAYMENT_TOKEN_TTL_SECONDS": "a day"}
    del environment["INVENTORY_TABLE_NAME"]
    with pytest.raises(SettingsError) as error:
        load(environment)
    assert "INVENTORY_TABLE_NAME is not set" in str(error.value)
    assert "PAYMENT_TOKEN_TTL_SECONDS is not an integer" in str(error.value)
    assert "a day" not in str(error.value)


def test_seconds_must_be_positive() -> None:
    with pytest.raises(
        SettingsError, match="IDEMPOTENCY_EXPIRY_SECONDS must be a positive number of seconds"
    ):
        load({**ENVIRONMENT, "IDEMPOTENCY_EXPIRY_SECONDS": "0"})
