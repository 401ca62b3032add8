"""One example detail per DetailType: `make docs` writes them out as the `events/` samples.

Every example must validate against its model (the generator refuses one that does not), so the samples,
the schema registry's examples and the catalog show the same, valid, event.
"""

from __future__ import annotations

from typing import Any

from shared.contracts import names

ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"
CUSTOMER_ID = "us-east-1:7d3c1b2a-5e4f-4a6b-8c9d-0e1f2a3b4c5d"
CHARGE_ID = "ch_0123456789abcdef"
TRIAL = {
    "version": "1.0",
    "trialId": "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c",
    "leadId": "lead-0042",
    "type": "ACS",
    "requestedAt": 1795514400,
}

EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    (names.USERS, names.USER_SIGNUP): {"email": "testuser@example.com", "name": "Test User"},
    (names.ORDERS, names.ORDER_PLACED): {
        "version": "1.0",
        "orderId": ORDER_ID,
        "customerId": CUSTOMER_ID,
        "lines": [
            {"sku": "BOOK-0001", "quantity": 2, "unitPriceCents": 1250},
            {"sku": "MUG-0042", "quantity": 1, "unitPriceCents": 899},
        ],
        "currency": "EUR",
        "totalCents": 3399,
        "paymentRef": "pay_5f0c3a2e9b8d4c7a1e6f2d0b9a8c7e6d",
        "placedAt": "2026-11-22T10:00:00.000Z",
    },
    (names.ORDERS, names.ORDER_STATUS_CHANGED): {
        "version": "1.0",
        "orderId": ORDER_ID,
        "customerId": CUSTOMER_ID,
        "status": "RESERVED",
        "changedAt": "2026-11-22T10:00:01.250Z",
    },
    (names.ORDERS, names.ORDER_REJECTED): {
        "version": "1.0",
        "orderId": ORDER_ID,
        "customerId": CUSTOMER_ID,
        "reason": "out of stock",
    },
    (names.ORDERS, names.ORDER_FAILED): {
        "version": "1.0",
        "orderId": ORDER_ID,
        "customerId": CUSTOMER_ID,
        "reason": "States.Timeout",
        "refunded": True,
        "refundedCents": 3399,
        "currency": "EUR",
    },
    (names.ORDERS, names.ORDER_COMPLETED): {
        "version": "1.0",
        "orderId": ORDER_ID,
        "customerId": CUSTOMER_ID,
        "totalCents": 3399,
        "currency": "EUR",
        "invoiceKey": f"invoices/{ORDER_ID}.json",
    },
    (names.ORDERS, names.ORDER_NEEDS_ATTENTION): {
        "version": "1.0",
        "orderId": ORDER_ID,
        "customerId": CUSTOMER_ID,
        "reason": "past its deadline",
        "previousStatus": "PAID",
    },
    (names.PAYMENTS, names.PAYMENT_CHARGED): {
        "version": "1.0",
        "orderId": ORDER_ID,
        "chargeId": CHARGE_ID,
        "amountCents": 3399,
        "currency": "EUR",
        "chargedAt": "2026-11-22T10:00:01.000Z",
    },
    (names.PAYMENTS, names.PAYMENT_REFUNDED): {
        "version": "1.0",
        "orderId": ORDER_ID,
        "chargeId": CHARGE_ID,
        "refundId": "re_0123456789abcdef",
        "amountCents": 3399,
        "currency": "EUR",
        "refundedAt": "2026-11-22T10:05:00.000Z",
    },
    (names.TRIALS, names.TRIAL_REQUESTED): {**TRIAL, "status": "REQUESTED"},
    (names.TRIALS, names.TRIAL_ASSIGNED): {**TRIAL, "status": "ASSIGNED"},
    (names.TRIALS, names.TRIAL_ASSIGNMENT_FAILED): {**TRIAL, "status": "FAILED"},
    (names.TRIALS, names.TRIAL_EXPIRED): {**TRIAL, "status": "EXPIRED"},
    (names.TRIALS, names.TRIAL_NEEDS_ATTENTION): {
        **TRIAL,
        "status": "NEEDS_ATTENTION",
        "reason": "still REQUESTED 2700 s after the request",
        "previousStatus": "REQUESTED",
    },
}
