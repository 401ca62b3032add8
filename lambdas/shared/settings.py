"""A function's settings: a frozen dataclass read from its environment once, at INIT, or an error."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")
# A field typed `str | None` may be unset (None); every other field is required.
OPTIONAL_TEXT = "str | None"


class SettingsError(RuntimeError):
    """The function's environment lacks a setting or holds one of the wrong kind (names, never values)."""


def from_environment(model: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Each field of the dataclass `model` from the variable of its name in upper case (`pool_size` ←
    `POOL_SIZE`); `int` fields are parsed. Every field is required unless typed `str | None`: runtime
    code keeps no defaults, so a missing variable fails the INIT, where it is seen at once, and not the
    first request that needs it."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field in fields(model):  # type: ignore[arg-type]
        name = field.name.upper()
        raw = environ.get(name, "")
        if not raw and field.type in (OPTIONAL_TEXT, str | None):
            values[field.name] = None  # optional by its type, and only then
        elif not raw:
            problems.append(f"{name} is not set")
        elif field.type in (int, "int"):
            try:
                values[field.name] = int(raw)
            except ValueError:
                problems.append(f"{name} is not an integer")
        else:
            values[field.name] = raw
    if problems:
        raise SettingsError(f"{model.__name__}: {'; '.join(problems)}")
    try:
        return model(**values)
    except ValueError as error:  # a model's own check (__post_init__) of the values it got
        raise SettingsError(f"{model.__name__}: {error}") from None
