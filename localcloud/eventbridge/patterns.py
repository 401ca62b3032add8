"""EventBridge event patterns: parsing, validation with AWS's exact messages, and matching."""

# AWS evaluates patterns with its open-source event-ruler library. These modules reimplement what that
# library observably does: the checks run in document order (the first problem is the one reported), a
# pattern compiles to alternative "branches" of dotted field paths, and the event is flattened the same
# way, so {"a": {"b": [1]}} and {"a.b": [1]} are the same rule and arrays in the event are "crushed out".

from __future__ import annotations

import functools
import json
from collections.abc import Hashable, Mapping
from typing import Any, Final

from localcloud.eventbridge.pattern_json import (
    Pairs,
    RawFloat,
    RawInt,
    is_number,
    is_object,
    number_text,
    object_items,
    reject_constant,
    to_dict,
)
from localcloud.eventbridge.pattern_matching import CompiledPattern
from localcloud.eventbridge.pattern_validation import InvalidEventPattern, compile_branches

__all__ = ["InvalidEventPattern", "compile_pattern", "matches", "parse_pattern", "validate_pattern"]

_CACHE: dict[Hashable, CompiledPattern] = {}
_CACHE_SIZE: Final = 1024


def parse_pattern(text: str) -> dict[str, Any]:
    """Parse and validate pattern JSON as AWS does; a repeated key overrides the earlier one."""
    stripped = text.lstrip()
    # AWS reads the pattern as a token stream: it checks the first token is an object and stops reading
    # after the object closes, so only a non-object start or a malformed object body is an error.
    if not stripped or stripped[0] in '"[-0123456789tfn':
        raise InvalidEventPattern("Filter is not an object")
    try:
        tree, _ = json.JSONDecoder(
            object_pairs_hook=Pairs,
            parse_int=RawInt,
            parse_float=RawFloat,
            parse_constant=reject_constant,
        ).raw_decode(stripped)
    except ValueError as error:
        raise InvalidEventPattern(f"Filter is not valid JSON: {error}") from None
    if not isinstance(tree, Pairs):
        raise InvalidEventPattern("Filter is not an object")
    # Validate the pairs as written: an overridden duplicate must still be a valid rule, as in AWS.
    compile_branches(tree)
    pattern: dict[str, Any] = to_dict(tree)
    return pattern


@functools.lru_cache(maxsize=_CACHE_SIZE)
def compile_pattern(text: str) -> CompiledPattern:
    """A pattern's text parsed, validated and compiled once: what TestEventPattern, rules and event
    source mapping filters all match with (repeated keys resolved as AWS resolves them)."""
    return _compiled(parse_pattern(text))


def validate_pattern(pattern: Mapping[str, Any]) -> None:
    """Raise InvalidEventPattern with AWS's message when AWS would refuse this pattern."""
    _compiled(pattern)


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether the pattern matches the event envelope (id, source, detail-type, ..., detail)."""
    return _compiled(pattern).matches(event)


def _compiled(pattern: Mapping[str, Any]) -> CompiledPattern:
    if not isinstance(pattern, Mapping):
        raise InvalidEventPattern("Filter is not an object")
    key = _freeze(pattern)
    cached = _CACHE.get(key)
    if cached is None:
        cached = CompiledPattern(compile_branches(pattern))
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = cached
    return cached


def _freeze(node: Any) -> Hashable:
    """A hashable key for a pattern that keeps what matters to AWS, such as a number's exact text."""
    # Built for every matches() call, so the plain JSON types take a fast path to the same key.
    kind = type(node)
    if kind is str:
        return ("string", node)
    if kind is dict:
        return ("object", tuple([(key, _freeze(value)) for key, value in node.items()]))
    if kind is list:
        return ("array", tuple([_freeze(value) for value in node]))
    if is_object(node):
        return ("object", tuple((key, _freeze(value)) for key, value in object_items(node)))
    if isinstance(node, list):
        return ("array", tuple(_freeze(value) for value in node))
    if isinstance(node, bool) or node is None:
        return ("literal", node)
    if is_number(node):
        return ("number", number_text(node))
    return ("string", node) if isinstance(node, str) else ("other", repr(node))
