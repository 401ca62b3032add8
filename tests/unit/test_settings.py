"""Settings read from a function's environment at INIT: every field required, errors name variables only."""

from __future__ import annotations

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
