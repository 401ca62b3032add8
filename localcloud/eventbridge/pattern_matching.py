"""Matching an event against a compiled pattern: each operator's test, over the event's flattened fields."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from localcloud.eventbridge.pattern_json import NumberKey, is_number, number_key, number_text

STAR: Final = -1  # a wildcard position among the byte tokens of a wildcard pattern
_IPV4_SHAPE: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_SHAPE: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


@dataclass(frozen=True)
class Matcher:
    """One entry of a field's list in the pattern: any one matching value satisfies the field."""

    test: Callable[[Any], bool]
    absent: bool = False  # {"exists": false}: satisfied by the field having no value at all
    wildcards: tuple[tuple[int, ...], ...] = ()  # byte tokens of wildcard patterns, for the complexity check
    identity: Hashable = None


# One alternative of a pattern ($or forks them): every dotted field path must be satisfied.
Branch = dict[str, list[Matcher]]


class CompiledPattern:
    """A valid pattern's branches, and the event paths that can lead to their fields."""

    def __init__(self, branches: list[Branch]) -> None:
        self.branches = branches
        # Each field path and its prefixes up to a dot: matching skips event subtrees outside these.
        self.reach = frozenset(
            path[:end]
            for branch in branches
            for path in branch
            for end in [len(path), *(index for index, char in enumerate(path) if char == ".")]
        )

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether every field of any one branch is satisfied by the event."""
        values = _flatten(event, self.reach)
        return any(
            all(_field_matches(matchers, values.get(path, ())) for path, matchers in branch.items())
            for branch in self.branches
        )


def _flatten(event: Mapping[str, Any], reach: frozenset[str]) -> dict[str, list[Any]]:
    """The event's leaf values by dotted path, within reach; arrays add their elements to the same path."""
    values: dict[str, list[Any]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, child in node.items():
                child_path = f"{path}.{key}" if path else str(key)
                # Below an empty key paths start afresh, so any field may lie under it.
                if child_path in reach or not child_path:
                    walk(child, child_path)
        elif isinstance(node, list):
            for child in node:
                walk(child, path)
        elif path:
            values.setdefault(path, []).append(node)

    walk(event, "")
    return values


def _field_matches(matchers: list[Matcher], values: Sequence[Any]) -> bool:
    if not values:
        return any(matcher.absent for matcher in matchers)
    return any(matcher.test(value) for matcher in matchers for value in values)


# --- operators ----------------------------------------------------------------------------------------


def equals(expected: str) -> Matcher:
    return Matcher(_equals_string(expected))


def literal(expected: bool | None) -> Matcher:
    return Matcher(lambda value: value is expected)


def number_equals(number: Any) -> Matcher:
    key = number_key(number)
    if key is None:
        # A number a double cannot hold (an account id, say) can still match by its exact text.
        text = number_text(number)
        return Matcher(lambda v: is_number(v) and number_key(v) is None and number_text(v) == text)
    return key_equals(key)


def key_equals(key: NumberKey) -> Matcher:
    return Matcher(lambda v: is_number(v) and number_key(v) == key)


def between(bottom: NumberKey | None, bottom_open: bool, top: NumberKey | None, top_open: bool) -> Matcher:
    def test(value: Any) -> bool:
        if not is_number(value):
            return False
        key = number_key(value)
        if key is None:
            return False
        if bottom is not None and (key < bottom or (bottom_open and key == bottom)):
            return False
        return top is None or not (key > top or (top_open and key == top))

    return Matcher(test)


def prefix(text: str) -> Matcher:
    return Matcher(_starts_with(text))


def suffix(text: str) -> Matcher:
    return Matcher(_ends_with(text))


def prefix_ignore_case(text: str) -> Matcher:
    regex = re.compile(ignore_case_regex(text), re.DOTALL)
    return Matcher(lambda v: isinstance(v, str) and regex.match(v) is not None)


def suffix_ignore_case(text: str) -> Matcher:
    regex = re.compile(ignore_case_regex(text) + r"\Z", re.DOTALL)
    return Matcher(lambda v: isinstance(v, str) and regex.search(v) is not None)


def equals_ignore_case(text: str) -> Matcher:
    regex = re.compile(ignore_case_regex(text), re.DOTALL)
    return Matcher(lambda v: isinstance(v, str) and regex.fullmatch(v) is not None)


def wildcard(text: str, tokens: tuple[int, ...]) -> Matcher:
    regex = wildcard_regex(tokens)
    return Matcher(
        lambda v: isinstance(v, str) and regex.fullmatch(quoted_bytes(v)) is not None,
        wildcards=(tokens,),
        identity=("wildcard", text),
    )


def exists(present: bool) -> Matcher:
    if present:
        return Matcher(lambda v: True)
    return Matcher(lambda v: False, absent=True)


def address_range(low: bytes, high: bytes) -> Matcher:
    def test(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        address = ip_or_none(value)
        return address is not None and len(address) == len(low) and low <= address <= high

    return Matcher(test)


def anything_but_string(text: str) -> Matcher:
    excluded = _equals_string(text)
    return Matcher(lambda v: not excluded(v))


def anything_but_strings(strings: set[str]) -> Matcher:
    return Matcher(lambda v: not (isinstance(v, str) and v in strings))


def anything_but_numbers(numbers: set[NumberKey]) -> Matcher:
    # Only a number can equal a numeric exclusion; strings, booleans and null always pass.
    return Matcher(lambda v: not (is_number(v) and number_key(v) in numbers))


def anything_but_matching(operator: str, texts: list[str], wildcards: tuple[tuple[int, ...], ...]) -> Matcher:
    """{"anything-but": {operator: texts}}; wildcards holds the texts' tokens when operator is wildcard."""
    if operator == "prefix":
        excluded = _starts_with(tuple(texts))
    elif operator == "suffix":
        excluded = _ends_with(tuple(texts))
    elif operator == "equals-ignore-case":
        excluded = _any_full_match([re.compile(ignore_case_regex(text), re.DOTALL) for text in texts])
    else:
        excluded = _any_wildcard_match([wildcard_regex(tokens) for tokens in wildcards])
    # Only a string can be excluded by these string operators; other values always pass.
    return Matcher(
        lambda v: not excluded(v),
        wildcards=wildcards,
        identity=("anything-but", operator, frozenset(texts)),
    )


def _equals_string(expected: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value == expected


def _starts_with(prefix: str | tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value.startswith(prefix)


def _ends_with(suffix: str | tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value.endswith(suffix)


def _any_full_match(regexes: list[re.Pattern[str]]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and any(regex.fullmatch(value) for regex in regexes)


def _any_wildcard_match(regexes: list[re.Pattern[bytes]]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and any(
        regex.fullmatch(quoted_bytes(value)) for regex in regexes
    )


# --- strings ------------------------------------------------------------------------------------------


def ignore_case_regex(text: str) -> str:
    """A regex matching text regardless of case as AWS does: each character as its lower or upper case."""
    parts = []
    for char in text:
        lower, upper = char.lower(), char.upper()
        # AWS case-folds UTF-16 code units one by one, so characters outside the BMP stay as they are.
        if ord(char) > 0xFFFF or lower == upper:
            parts.append(re.escape(char if ord(char) > 0xFFFF else lower))
        else:
            parts.append(f"(?:{re.escape(lower)}|{re.escape(upper)})")
    return "".join(parts)


def quoted_bytes(value: str) -> bytes:
    return ('"' + value + '"').encode("utf-8", "surrogatepass")


def wildcard_regex(tokens: tuple[int, ...]) -> re.Pattern[bytes]:
    return re.compile(
        b"".join(b".*" if token == STAR else re.escape(bytes([token])) for token in tokens), re.DOTALL
    )


# --- IP addresses -------------------------------------------------------------------------------------


class NotAnAddress(ValueError):
    pass


def ip_bytes(text: str) -> bytes:
    """The address bytes (4 or 16) of an IP literal, or NotAnAddress with AWS's message."""
    try:
        if _IPV4_SHAPE.fullmatch(text):
            return ipaddress.IPv4Address(text).packed
        if _IPV6_SHAPE.fullmatch(text):
            address = ipaddress.IPv6Address(text)
            # Java, which AWS runs on, reads an IPv4-mapped IPv6 address as the IPv4 address.
            mapped = address.ipv4_mapped
            return mapped.packed if mapped is not None else address.packed
    except ValueError:
        raise NotAnAddress(f"Invalid IP address: {text}") from None
    raise NotAnAddress(f"Nonstandard IP address: {text}")


def ip_or_none(text: str) -> bytes | None:
    try:
        return ip_bytes(text)
    except NotAnAddress:
        return None
