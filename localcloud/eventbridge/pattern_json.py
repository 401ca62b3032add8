"""Pattern JSON as AWS's streaming parser reads it: repeated keys kept, numbers with their exact text."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

OR: Final = "$or"


class Pairs(list[tuple[str, Any]]):
    """A JSON object exactly as written, duplicate keys included, as AWS's streaming parser sees it."""


class RawInt(int):
    """An integer that remembers its JSON text, which AWS quotes verbatim in some error messages."""

    raw: str

    def __new__(cls, raw: str) -> RawInt:
        number = super().__new__(cls, raw)
        number.raw = raw
        return number


class RawFloat(float):
    """A float that remembers its JSON text: AWS refuses numbers a double cannot hold exactly."""

    raw: str

    def __new__(cls, raw: str) -> RawFloat:
        number = super().__new__(cls, raw)
        number.raw = raw
        return number


# The sortable form of a number: the double, then a tie-breaker that puts -0.0 just below 0.0 (AWS orders
# numbers by their IEEE-754 bits, which tells the two zeros apart).
NumberKey = tuple[float, int]


def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def is_object(value: Any) -> bool:
    return isinstance(value, Pairs | Mapping)


def is_array(value: Any) -> bool:
    return isinstance(value, list) and not isinstance(value, Pairs)


def object_items(node: Mapping[str, Any] | Pairs) -> Iterator[tuple[str, Any]]:
    if isinstance(node, Pairs):
        return iter(node)
    return iter(node.items())


# --- numbers ------------------------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_text(number: Any) -> str:
    raw = getattr(number, "raw", None)
    if isinstance(raw, str):
        return raw
    return repr(float(number)) if isinstance(number, float) else str(number)


def number_key(number: Any) -> NumberKey | None:
    """The comparable form of a number, or None when a double cannot hold it exactly (AWS's rule)."""
    try:
        exact = Decimal(number_text(number))
    except InvalidOperation:
        return None
    if not exact.is_finite():
        return None
    as_float = float(exact)
    if math.isinf(as_float) or Decimal(repr(as_float)) != exact:
        return None
    return as_float, 0 if as_float == 0 and math.copysign(1.0, as_float) < 0 else 1


# --- repeated keys ------------------------------------------------------------------------------------


def to_dict(node: Any) -> Any:
    """Plain dicts from parsed pairs, resolving repeated keys the way AWS's rule compiler does."""
    if isinstance(node, Pairs):
        result: dict[str, Any] = {}
        for key, value in node:
            _merge(result, key, to_dict(value))
        return result
    if isinstance(node, list):
        return [to_dict(value) for value in node]
    return node


def _merge(target: dict[str, Any], key: str, value: Any) -> None:
    if key not in target:
        target[key] = value
        return
    previous = target[key]
    if key == OR and is_array(previous) and is_array(value):
        # Two $or at one level: every alternative of the first combines with every one of the second.
        target[key] = [_combined(first, second) for second in value for first in previous]
    elif isinstance(previous, dict) and isinstance(value, dict):
        target[key] = _combined(previous, value)
    elif isinstance(previous, dict) != isinstance(value, dict):
        # An object and a list under one key are different paths ("k.x" and "k"); AWS keeps both.
        nested = previous if isinstance(previous, dict) else value
        target[key] = value if isinstance(previous, dict) else previous
        for nested_key, nested_value in _prefixed(nested, key).items():
            _merge(target, nested_key, nested_value)
    else:
        target[key] = value


def _combined(first: Any, second: Any) -> Any:
    if not (isinstance(first, dict) and isinstance(second, dict)):
        return second
    result = dict(first)
    for key, value in second.items():
        _merge(result, key, value)
    return result


def _prefixed(node: dict[str, Any], prefix: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key == OR and is_array(value):
            _merge(result, OR, [_prefixed(alt, prefix) if isinstance(alt, dict) else alt for alt in value])
        else:
            _merge(result, f"{prefix}.{key}", value)
    return result
