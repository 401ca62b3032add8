"""Settings read from a function's environment at INIT: every field required, errors name variables only."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import pytest

from shared.settings import SettingsError, from_environment


@dataclass(frozen=True, kw_only=True)
class Example:
    table_name: str
    pool_size: int

    def __post_init__(self) -> None:
        if self.pool_size < 1:
            raise ValueError("POOL_SIZE must be at least 1")


def test_each_field_comes_from_the_variable_of_its_name_in_upper_case() -> None:
    assert from_environment(Example, {"TABLE_NAME": "t", "POOL_SIZE": "3", "OTHER": "x"}) == Example(
        table_name="t", pool_size=3
    )


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"POOL_SIZE": "3"}, "TABLE_NAME is not set"),
        ({"TABLE_NAME": "", "POOL_SIZE": "3"}, "TABLE_NAME is not set"),
        ({"TABLE_NAME": "t", "POOL_SIZE": "three"}, "POOL_SIZE is not an integer"),
        ({"TABLE_NAME": "t", "POOL_SIZE": "0"}, "POOL_SIZE must be at least 1"),
    ],
)
def test_a_missing_or_malformed_setting_fails_naming_the_variable_not_its_value(
    environ: dict[str, str], says: str
) -> None:
    with pytest.raises(SettingsError) as error:
        from_environment(Example, environ)
    assert says in str(error.value) and "three" not in str(error.value)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(SettingsError, match="TABLE_NAME is not set; POOL_SIZE is not set"):
        from_environment(Example, {})


# -- each service's own checks, made in its settings' __post_init__ -----------------------------------

SERVICE_ENVIRONMENTS: dict[str, dict[str, str]] = {
    "order_sweeper": {
        "ORDERS_TABLE_NAME": "o",
        "ORDERS_STATUS_INDEX_NAME": "i",
        "STUCK_AFTER_SECONDS": "900",
    },
    "welcome_email": {
        "SENDER_EMAIL": "noreply@example.com",
        "IDEMPOTENCY_TABLE_NAME": "t",
        "IDEMPOTENCY_EXPIRY_SECONDS": "86400",
    },
    "metrics": {"POWERTOOLS_METRICS_NAMESPACE": "EventDriven", "POWERTOOLS_SERVICE_NAME": "metrics"},
}


@pytest.mark.parametrize(
    ("service", "variable", "value", "says"),
    [
        ("order_sweeper", "STUCK_AFTER_SECONDS", "59", "STUCK_AFTER_SECONDS must be at least 60"),
        ("welcome_email", "SENDER_EMAIL", "not-an-address", "SENDER_EMAIL is not an e-mail address"),
        (
            "welcome_email",
            "IDEMPOTENCY_EXPIRY_SECONDS",
            "59",
            "IDEMPOTENCY_EXPIRY_SECONDS must be at least 3600",
        ),
        ("metrics", "POWERTOOLS_SERVICE_NAME", "   ", "POWERTOOLS_SERVICE_NAME is blank"),
    ],
)
def test_a_service_refuses_a_setting_its_own_check_rejects(
    service: str, variable: str, value: str, says: str
) -> None:
    load = importlib.import_module(f"{service}.config").load
    assert load(SERVICE_ENVIRONMENTS[service])  # the valid environment loads
    with pytest.raises(SettingsError, match=says) as error:
        load({**SERVICE_ENVIRONMENTS[service], variable: value})
    assert value.strip() == "" or value not in str(error.value)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("PAYMENT_LIMIT_CENTS", "-1", "PAYMENT_LIMIT_CENTS must not be negative"),
        ("PAYMENT_MAX_RECEIVES", "0", "PAYMENT_MAX_RECEIVES must be at least 1"),
        ("PAYMENT_TOKENS_TABLE_NAME", "", "PAYMENT_TOKENS_TABLE_NAME is not set"),
    ],
)
def test_the_charge_settings_check_limit_and_receives(variable: str, value: str, says: str) -> None:
    from payment.config import ChargeConfig

    environ = {
        "PAYMENTS_TABLE_NAME": "p",
        "EVENT_BUS_NAME": "b",
        "PAYMENT_LIMIT_CENTS": "100000",
        "PAYMENT_TOKENS_TABLE_NAME": "t",
        "PAYMENT_MAX_RECEIVES": "5",
    }
    assert from_environment(ChargeConfig, environ).payment_max_receives == 5
    with pytest.raises(SettingsError, match=says):
        from_environment(ChargeConfig, {**environ, variable: value})


@dataclass(frozen=True, kw_only=True)
class WithOptional:
    table_name: str
    endpoint: str | None


def test_only_a_field_typed_optional_may_be_unset() -> None:
    # Given a model with one required and one optional field
    # When the optional variable is unset, or set
    # Then it is None, or its value; the required one is still required
    assert from_environment(WithOptional, {"TABLE_NAME": "t"}) == WithOptional(table_name="t", endpoint=None)
    assert from_environment(WithOptional, {"TABLE_NAME": "t", "ENDPOINT": "e"}).endpoint == "e"
    with pytest.raises(SettingsError, match="TABLE_NAME is not set"):
        from_environment(WithOptional, {"ENDPOINT": "e"})
