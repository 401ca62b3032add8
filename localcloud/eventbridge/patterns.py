"""EventBridge event patterns: AWS's validation, with its exact error messages, and its matching."""

# AWS evaluates patterns with its open-source event-ruler library. This module reimplements what that
# library observably does: the checks run in document order (the first problem is the one reported), a
# pattern compiles to alternative "branches" of dotted field paths, and the event is flattened the same
# way, so {"a": {"b": [1]}} and {"a.b": [1]} are the same rule and arrays in the event are "crushed out".

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

__all__ = ["InvalidEventPattern", "matches", "parse_pattern", "validate_pattern"]

_REASON_PREFIX: Final = "Event pattern is not valid. Reason: "
_OR: Final = "$or"
# Complexity above which AWS refuses wildcard patterns ("more than ten simultaneously reachable prefixes").
_MAX_WILDCARD_COMPLEXITY: Final = 10
# A guard for the complexity search itself: this many distinct NFA state sets means far more than ten.
_MAX_COMPLEXITY_STATE_SETS: Final = 20_000
_TOO_COMPLEX: Final = (
    "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences "
    "after a wildcard character"
)
# Names event-ruler reserves for (present or future) operators; they may not be field names inside $or.
_RESERVED_IN_OR: Final = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)
_IPV4_SHAPE: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_SHAPE: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")
_MASK_BITS: Final = re.compile(r"[+-]?[0-9]+")
_STAR: Final = -1  # a wildcard position among the byte tokens of a wildcard pattern
_OTHER_BYTE: Final = -2  # stands for every byte no wildcard pattern names, in the complexity search


class InvalidEventPattern(ValueError):
    """A pattern AWS refuses; ``message`` is the text of AWS's InvalidEventPatternException."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.message = _REASON_PREFIX + reason
        super().__init__(self.message)


class _Pairs(list[tuple[str, Any]]):
    """A JSON object exactly as written, duplicate keys included, as AWS's streaming parser sees it."""


class _RawInt(int):
    """An integer that remembers its JSON text, which AWS quotes verbatim in some error messages."""

    raw: str

    def __new__(cls, raw: str) -> _RawInt:
        number = super().__new__(cls, raw)
        number.raw = raw
        return number


class _RawFloat(float):
    """A float that remembers its JSON text: AWS refuses numbers a double cannot hold exactly."""

    raw: str

    def __new__(cls, raw: str) -> _RawFloat:
        number = super().__new__(cls, raw)
        number.raw = raw
        return number


# The sortable form of a number: the double, then a tie-breaker that puts -0.0 just below 0.0 (AWS orders
# numbers by their IEEE-754 bits, which tells the two zeros apart).
_NumberKey = tuple[float, int]


@dataclass(frozen=True)
class _Matcher:
    """One entry of a field's list in the pattern: any one matching value satisfies the field."""

    test: Callable[[Any], bool]
    absent: bool = False  # {"exists": false}: satisfied by the field having no value at all
    wildcards: tuple[tuple[int, ...], ...] = ()  # byte tokens of wildcard patterns, for the complexity check
    identity: Hashable = None


_Branch = dict[str, list[_Matcher]]
_CACHE: dict[Hashable, list[_Branch]] = {}
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
            object_pairs_hook=_Pairs,
            parse_int=_RawInt,
            parse_float=_RawFloat,
            parse_constant=_reject_constant,
        ).raw_decode(stripped)
    except ValueError as error:
        raise InvalidEventPattern(f"Filter is not valid JSON: {error}") from None
    if not isinstance(tree, _Pairs):
        raise InvalidEventPattern("Filter is not an object")
    # Validate the pairs as written: an overridden duplicate must still be a valid rule, as in AWS.
    _compile(tree)
    pattern: dict[str, Any] = _to_dict(tree)
    return pattern


def validate_pattern(pattern: Mapping[str, Any]) -> None:
    """Raise InvalidEventPattern with AWS's message when AWS would refuse this pattern."""
    _compiled(pattern)


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether the pattern matches the event envelope (id, source, detail-type, ..., detail)."""
    branches = _compiled(pattern)
    values = _flatten(event)
    return any(
        all(_field_matches(matchers, values.get(path, ())) for path, matchers in branch.items())
        for branch in branches
    )


# --- compilation --------------------------------------------------------------------------------------


def _compiled(pattern: Mapping[str, Any]) -> list[_Branch]:
    if not isinstance(pattern, Mapping):
        raise InvalidEventPattern("Filter is not an object")
    key = _freeze(pattern)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _compile(pattern)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = cached
    return cached


def _compile(pattern: Mapping[str, Any] | _Pairs) -> list[_Branch]:
    compiler = _Compiler()
    compiler.object(pattern, [], in_or=False)
    _check_wildcard_complexity(compiler.branches)
    return compiler.branches


class _Compiler:
    """Walks a pattern in document order, building branches of path -> matchers like event-ruler."""

    def __init__(self) -> None:
        self.branches: list[_Branch] = []

    def object(self, node: Mapping[str, Any] | _Pairs, path: list[str], *, in_or: bool) -> None:
        has_fields = False
        for key, value in _items(node):
            has_fields = True
            if key == _OR:
                self.any_of(value, path)
                continue
            if in_or and key in _RESERVED_IN_OR:
                raise InvalidEventPattern(
                    f"{key} is Ruler reserved fieldName which cannot be used inside {_OR}."
                )
            if _is_object(value):
                self.object(value, [*path, key], in_or=in_or)
            elif _is_array(value):
                self.field(".".join([*path, key]), value)
            else:
                raise InvalidEventPattern(f'"{key}" must be an object or an array')
        if not has_fields:
            raise InvalidEventPattern("Empty objects are not allowed")

    def any_of(self, alternatives: Any, path: list[str]) -> None:
        # Each alternative forks every branch built so far; later fields then apply to all the forks.
        current = [dict(branch) for branch in self.branches]
        if not _is_array(alternatives):
            raise InvalidEventPattern("It must be an Array followed with $or.")
        collected: list[_Branch] = []
        count = 0
        for alternative in alternatives:
            count += 1
            if not _is_object(alternative):
                raise InvalidEventPattern("Only JSON object is allowed in array of $or relationship.")
            self.branches = [dict(branch) for branch in current] or [{}]
            self.object(alternative, path, in_or=True)
            collected.extend(self.branches)
        if count < 2:
            raise InvalidEventPattern("There must have at least 2 Objects in $or relationship.")
        self.branches = collected

    def field(self, name: str, values: Sequence[Any]) -> None:
        matchers = [self.value(value) for value in values]
        if not matchers:
            raise InvalidEventPattern("Empty arrays are not allowed")
        if not self.branches:
            self.branches.append({})
        # A path given twice (say "a.b" and {"a": {"b": ...}}) keeps the later list, as AWS does.
        for branch in self.branches:
            branch[name] = matchers

    def value(self, value: Any) -> _Matcher:
        if _is_object(value):
            return self.expression(value)
        if isinstance(value, str):
            # AWS turns a string that is an IP address into an address match: "::1" matches "0:0::1".
            address = _ip_or_none(value)
            if address is not None:
                return _address_range(address, address)
            return _Matcher(_equals_string(value))
        if isinstance(value, bool) or value is None:
            return _Matcher(_is_literal(value))
        if _is_number(value):
            return _number_equals(value)
        raise InvalidEventPattern("Match value must be String, number, true, false, or null")

    def expression(self, node: Mapping[str, Any] | _Pairs) -> _Matcher:
        items = list(_items(node))
        if not items:
            raise InvalidEventPattern("Match expression name not found")
        name, argument = items[0]
        extra_keys = len(items) > 1
        handler = self._EXPRESSIONS.get(name)
        if handler is None:
            raise InvalidEventPattern(f"Unrecognized match type {name}")
        matcher, extra_key_message = handler(self, argument)
        if extra_keys:
            raise InvalidEventPattern(extra_key_message)
        return matcher

    def exactly(self, argument: Any) -> tuple[_Matcher, str]:
        if not isinstance(argument, str):
            raise InvalidEventPattern("exact match pattern must be a string")
        return _Matcher(_equals_string(argument)), _ONE_KEY

    def prefix(self, argument: Any) -> tuple[_Matcher, str]:
        if _is_object(argument):
            text = _ignore_case_operand(argument, "Prefix", "prefix")
            regex = re.compile(_ignore_case_regex(text), re.DOTALL)
            return _Matcher(lambda v: isinstance(v, str) and regex.match(v) is not None), _ONE_KEY
        if not isinstance(argument, str):
            raise InvalidEventPattern("prefix match pattern must be a string")
        return _Matcher(_starts_with(argument)), _ONE_KEY

    def suffix(self, argument: Any) -> tuple[_Matcher, str]:
        if _is_object(argument):
            text = _ignore_case_operand(argument, "Suffix", "suffix")
            regex = re.compile(_ignore_case_regex(text) + r"\Z", re.DOTALL)
            return _Matcher(lambda v: isinstance(v, str) and regex.search(v) is not None), _ONE_KEY
        if not isinstance(argument, str):
            raise InvalidEventPattern("suffix match pattern must be a string")
        return _Matcher(_ends_with(argument)), _ONE_KEY

    def equals_ignore_case(self, argument: Any) -> tuple[_Matcher, str]:
        if not isinstance(argument, str):
            raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
        regex = re.compile(_ignore_case_regex(argument), re.DOTALL)
        return _Matcher(lambda v: isinstance(v, str) and regex.fullmatch(v) is not None), _ONE_KEY

    def wildcard(self, argument: Any) -> tuple[_Matcher, str]:
        if not isinstance(argument, str):
            raise InvalidEventPattern("wildcard match pattern must be a string")
        tokens = _wildcard_tokens(argument)
        regex = _wildcard_regex(tokens)
        return (
            _Matcher(
                lambda v: isinstance(v, str) and regex.fullmatch(_quoted_bytes(v)) is not None,
                wildcards=(tokens,),
                identity=("wildcard", argument),
            ),
            _ONE_KEY,
        )

    def exists(self, argument: Any) -> tuple[_Matcher, str]:
        if argument is True:
            return _Matcher(lambda v: True), _ONE_KEY
        if argument is False:
            return _Matcher(lambda v: False, absent=True), _ONE_KEY
        raise InvalidEventPattern("exists match pattern must be either true or false.")

    def cidr(self, argument: Any) -> tuple[_Matcher, str]:
        if not isinstance(argument, str):
            # Sic: AWS reports a non-string cidr with the prefix message.
            raise InvalidEventPattern("prefix match pattern must be a string")
        low, high = _cidr_bounds(argument)
        return _address_range(low, high), _ONE_KEY

    def numeric(self, argument: Any) -> tuple[_Matcher, str]:
        if not _is_array(argument):
            raise InvalidEventPattern("Value of numeric must be an array.")
        return _numeric_range(list(argument)), _TOO_MANY_ELEMENTS

    def anything_but(self, argument: Any) -> tuple[_Matcher, str]:
        if not _is_object(argument):
            _check_anything_but_operand(argument)
            if _is_array(argument):
                return _anything_but_values(list(argument)), _TOO_MANY_ELEMENTS
            return _anything_but_single(argument), _TOO_MANY_ELEMENTS
        inner = list(_items(argument))
        if not inner:
            raise InvalidEventPattern("Anything-But expression name not found")
        operator, operand = inner[0]
        if operator not in _ANYTHING_BUT_OPERATORS:
            raise InvalidEventPattern(f"Unsupported anything-but pattern: {operator}")
        _check_anything_but_operand(operand)
        operands = list(operand) if _is_array(operand) else [operand]
        matcher = _anything_but_set(operator, operands)
        if len(inner) > 1:
            raise InvalidEventPattern(_TOO_MANY_ELEMENTS)
        return matcher, _TOO_MANY_ELEMENTS

    _EXPRESSIONS: Final[dict[str, Callable[[_Compiler, Any], tuple[_Matcher, str]]]] = {
        "exactly": exactly,
        "prefix": prefix,
        "suffix": suffix,
        "equals-ignore-case": equals_ignore_case,
        "wildcard": wildcard,
        "exists": exists,
        "cidr": cidr,
        "numeric": numeric,
        "anything-but": anything_but,
    }


_ONE_KEY: Final = "Only one key allowed in match expression"
# Sic: AWS reports surplus keys after numeric and anything-but expressions with this numeric wording.
_TOO_MANY_ELEMENTS: Final = "Too many elements in numeric expression"
_ANYTHING_BUT_OPERATORS: Final = ("equals-ignore-case", "prefix", "suffix", "wildcard")


def _ignore_case_operand(node: Mapping[str, Any] | _Pairs, title: str, operator: str) -> str:
    """The string of {"prefix"|"suffix": {"equals-ignore-case": "..."}}, checked like AWS."""
    items = list(_items(node))
    if not items:
        raise InvalidEventPattern(f"{title} expression name not found")
    name, text = items[0]
    if name != "equals-ignore-case":
        raise InvalidEventPattern(f"Unsupported {operator} pattern: {name}")
    if not isinstance(text, str):
        raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
    if len(items) > 1:
        raise InvalidEventPattern(_ONE_KEY)
    return text


def _check_anything_but_operand(operand: Any) -> None:
    if not (_is_array(operand) or isinstance(operand, str) or _is_number(operand)):
        raise InvalidEventPattern("Value of anything-but must be an array or single string/number value.")


def _anything_but_single(operand: Any) -> _Matcher:
    if isinstance(operand, str):
        excluded = _equals_string(operand)
        return _Matcher(lambda v: not excluded(v))
    return _anything_but_numbers({_required_key(operand)})


def _anything_but_values(operands: list[Any]) -> _Matcher:
    strings: set[str] = set()
    numbers: set[_NumberKey] = set()
    for operand in operands:
        if isinstance(operand, str):
            strings.add(operand)
        elif _is_number(operand):
            numbers.add(_required_key(operand))
        else:
            raise InvalidEventPattern("Inside anything but list, start|null|boolean is not supported.")
    if bool(strings) == bool(numbers):
        raise InvalidEventPattern(
            "Inside anything but list, either all values are number or string, mixed type is not supported"
        )
    if strings:
        return _Matcher(lambda v: not (isinstance(v, str) and v in strings))
    return _anything_but_numbers(numbers)


def _anything_but_numbers(numbers: set[_NumberKey]) -> _Matcher:
    # Only a number can equal a numeric exclusion; strings, booleans and null always pass.
    return _Matcher(lambda v: not (_is_number(v) and _number_key(v) in numbers))


def _anything_but_set(operator: str, operands: list[Any]) -> _Matcher:
    texts: list[str] = []
    for operand in operands:
        if not isinstance(operand, str):
            if operator == "equals-ignore-case":
                raise InvalidEventPattern(
                    "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
                )
            if operator == "wildcard":
                raise InvalidEventPattern("wildcard match pattern must be a string")
            raise InvalidEventPattern("prefix/suffix match pattern must be a string")
        if operator in ("prefix", "suffix") and not operand:
            raise InvalidEventPattern("Null prefix/suffix not allowed")
        texts.append(operand)
    wildcards: tuple[tuple[int, ...], ...] = ()
    if operator == "prefix":
        excluded = _starts_with(tuple(texts))
    elif operator == "suffix":
        excluded = _ends_with(tuple(texts))
    elif operator == "equals-ignore-case":
        excluded = _any_full_match([re.compile(_ignore_case_regex(text), re.DOTALL) for text in texts])
    else:
        wildcards = tuple(_wildcard_tokens(text) for text in texts)
        excluded = _any_wildcard_match([_wildcard_regex(tokens) for tokens in wildcards])
    # Only a string can be excluded by these string operators; other values always pass.
    return _Matcher(
        lambda v: not excluded(v),
        wildcards=wildcards,
        identity=("anything-but", operator, frozenset(texts)),
    )


def _numeric_range(terms: list[Any]) -> _Matcher:
    """{"numeric": [...]}, validated term by term in AWS's order and with AWS's messages."""
    stream: Iterator[Any] = iter(terms)
    end = object()
    first = next(stream, end)
    if not isinstance(first, str):
        raise InvalidEventPattern(f"Invalid member in numeric match: {_token_text(first, end)}")
    operator = first
    operand = next(stream, end)
    if operator == "=":
        if not _is_number(operand):
            raise InvalidEventPattern("Value of equals must be numeric")
        if next(stream, end) is not end:
            raise InvalidEventPattern(_TOO_MANY_ELEMENTS)
        equal = _required_key(operand)
        return _Matcher(lambda v: _is_number(v) and _number_key(v) == equal)
    if operator in (">", ">="):
        if not _is_number(operand):
            raise InvalidEventPattern(f"Value of {operator} must be numeric")
        bottom_open = operator == ">"
        following = next(stream, end)
        if following is end:
            return _between(_required_key(operand), bottom_open, None, False)
        if not isinstance(following, str):
            raise InvalidEventPattern(f"Bad value in numeric range: {_token_text(following, end)}")
        if following not in ("<", "<="):
            raise InvalidEventPattern(f"Bad numeric range operator: {following}")
        top = next(stream, end)
        if not _is_number(top):
            raise InvalidEventPattern(f"Value of {following} must be numeric")
        if next(stream, end) is not end:
            raise InvalidEventPattern("Too many terms in numeric range expression")
        bottom_key, top_key = _required_key(operand), _required_key(top)
        if bottom_key >= top_key:
            raise InvalidEventPattern("Bottom must be less than top")
        return _between(bottom_key, bottom_open, top_key, following == "<")
    if operator in ("<", "<="):
        if not _is_number(operand):
            raise InvalidEventPattern(f"Value of {operator} must be numeric")
        if next(stream, end) is not end:
            raise InvalidEventPattern(_TOO_MANY_ELEMENTS)
        return _between(None, False, _required_key(operand), operator == "<")
    raise InvalidEventPattern(f"Unrecognized numeric range operator: {operator}")


def _between(
    bottom: _NumberKey | None, bottom_open: bool, top: _NumberKey | None, top_open: bool
) -> _Matcher:
    def test(value: Any) -> bool:
        if not _is_number(value):
            return False
        key = _number_key(value)
        if key is None:
            return False
        if bottom is not None and (key < bottom or (bottom_open and key == bottom)):
            return False
        return top is None or not (key > top or (top_open and key == top))

    return _Matcher(test)


def _number_equals(number: Any) -> _Matcher:
    key = _number_key(number)
    if key is None:
        # A number a double cannot hold (an account id, say) can still match by its exact text.
        text = _number_text(number)
        return _Matcher(lambda v: _is_number(v) and _number_key(v) is None and _number_text(v) == text)
    return _Matcher(lambda v: _is_number(v) and _number_key(v) == key)


def _equals_string(expected: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value == expected


def _is_literal(expected: bool | None) -> Callable[[Any], bool]:
    return lambda value: value is expected


def _starts_with(prefix: str | tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value.startswith(prefix)


def _ends_with(suffix: str | tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value.endswith(suffix)


def _any_full_match(regexes: list[re.Pattern[str]]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and any(regex.fullmatch(value) for regex in regexes)


def _any_wildcard_match(regexes: list[re.Pattern[bytes]]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and any(
        regex.fullmatch(_quoted_bytes(value)) for regex in regexes
    )


def _address_range(low: bytes, high: bytes) -> _Matcher:
    def test(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        address = _ip_or_none(value)
        return address is not None and len(address) == len(low) and low <= address <= high

    return _Matcher(test)


# --- numbers ------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_text(number: Any) -> str:
    raw = getattr(number, "raw", None)
    if isinstance(raw, str):
        return raw
    return repr(float(number)) if isinstance(number, float) else str(number)


def _number_key(number: Any) -> _NumberKey | None:
    """The comparable form of a number, or None when a double cannot hold it exactly (AWS's rule)."""
    try:
        exact = Decimal(_number_text(number))
    except InvalidOperation:
        return None
    if not exact.is_finite():
        return None
    as_float = float(exact)
    if math.isinf(as_float) or Decimal(repr(as_float)) != exact:
        return None
    return as_float, 0 if as_float == 0 and math.copysign(1.0, as_float) < 0 else 1


def _required_key(number: Any) -> _NumberKey:
    key = _number_key(number)
    if key is None:
        raise InvalidEventPattern(f"Cannot compare number : {_number_text(number)}")
    return key


def _token_text(token: Any, end: object) -> str:
    """How AWS's JSON parser prints a token in error messages."""
    if token is end:
        return "]"
    if _is_object(token):
        return "{"
    if _is_array(token):
        return "["
    if isinstance(token, bool):
        return "true" if token else "false"
    if token is None:
        return "null"
    if _is_number(token):
        return _number_text(token)
    return str(token)


# --- strings ------------------------------------------------------------------------------------------


def _ignore_case_regex(text: str) -> str:
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


def _quoted_bytes(value: str) -> bytes:
    return ('"' + value + '"').encode("utf-8", "surrogatepass")


def _wildcard_tokens(text: str) -> tuple[int, ...]:
    """The UTF-8 bytes of the quoted pattern, with _STAR for each wildcard; escapes as AWS parses them."""
    data = _quoted_bytes(text)
    tokens: list[int] = []
    index = 0
    # Positions in AWS's messages count bytes of the pattern with its opening quote, as here.
    while index < len(data):
        byte = data[index]
        if byte == ord("*"):
            if index + 1 < len(data) and data[index + 1] == ord("*"):
                raise InvalidEventPattern(f"Consecutive wildcard characters at pos {index}")
            tokens.append(_STAR)
        elif byte == ord("\\"):
            if index + 1 < len(data) and data[index + 1] in (ord("*"), ord("\\")):
                tokens.append(data[index + 1])
                index += 2
                continue
            raise InvalidEventPattern(f"Invalid escape character at pos {index}")
        else:
            tokens.append(byte)
        index += 1
    return tuple(tokens)


def _wildcard_regex(tokens: tuple[int, ...]) -> re.Pattern[bytes]:
    return re.compile(
        b"".join(b".*" if token == _STAR else re.escape(bytes([token])) for token in tokens), re.DOTALL
    )


# --- IP addresses -------------------------------------------------------------------------------------


class _NotAnAddress(ValueError):
    pass


def _ip_bytes(text: str) -> bytes:
    """The address bytes (4 or 16) of an IP literal, or _NotAnAddress with AWS's message."""
    try:
        if _IPV4_SHAPE.fullmatch(text):
            return ipaddress.IPv4Address(text).packed
        if _IPV6_SHAPE.fullmatch(text):
            address = ipaddress.IPv6Address(text)
            # Java, which AWS runs on, reads an IPv4-mapped IPv6 address as the IPv4 address.
            mapped = address.ipv4_mapped
            return mapped.packed if mapped is not None else address.packed
    except ValueError:
        raise _NotAnAddress(f"Invalid IP address: {text}") from None
    raise _NotAnAddress(f"Nonstandard IP address: {text}")


def _ip_or_none(text: str) -> bytes | None:
    try:
        return _ip_bytes(text)
    except _NotAnAddress:
        return None


def _cidr_bounds(text: str) -> tuple[bytes, bytes]:
    parts = text.split("/")
    # Java's split, which AWS uses, drops trailing empty strings: "10.0.0.0/8/" has one slash for it.
    while parts and not parts[-1]:
        parts.pop()
    if len(parts) != 2:
        raise InvalidEventPattern("Malformed CIDR, one '/' required")
    if not _MASK_BITS.fullmatch(parts[1]) or not -(2**31) <= int(parts[1]) < 2**31:
        raise InvalidEventPattern("Malformed CIDR, mask bits must be an integer")
    mask = int(parts[1])
    if mask < 0:
        raise InvalidEventPattern("Malformed CIDR, mask bits must not be negative")
    try:
        address = _ip_bytes(parts[0])
    except _NotAnAddress as error:
        raise InvalidEventPattern(str(error)) from None
    width = len(address) * 8
    if width == 32 and mask > 31:
        raise InvalidEventPattern("IPv4 mask bits must be < 32")
    if width == 128 and mask > 127:
        raise InvalidEventPattern("IPv6 mask bits must be < 128")
    host_bits = (1 << (width - mask)) - 1
    number = int.from_bytes(address, "big")
    low, high = number & ~host_bits, number | host_bits
    return low.to_bytes(len(address), "big"), high.to_bytes(len(address), "big")


# --- wildcard complexity ------------------------------------------------------------------------------


def _check_wildcard_complexity(branches: list[_Branch]) -> None:
    by_path: dict[str, dict[Hashable, tuple[tuple[int, ...], ...]]] = {}
    for branch in branches:
        for path, matchers in branch.items():
            for matcher in matchers:
                if matcher.wildcards:
                    by_path.setdefault(path, {})[matcher.identity] = matcher.wildcards
    for patterns in by_path.values():
        if _wildcard_complexity(patterns) > _MAX_WILDCARD_COMPLEXITY:
            raise InvalidEventPattern(_TOO_COMPLEX)


def _wildcard_complexity(patterns: Mapping[Hashable, tuple[tuple[int, ...], ...]]) -> int:
    """AWS's measure: the most wildcard-pattern prefixes that one input value can match at once.

    Each prefix of each pattern is a state. Prefixes up to the first wildcard are shared between patterns
    (as in AWS's byte machine) and weigh as many patterns as they lead to; later ones belong to their
    pattern. The worst input is found by exploring every reachable set of states.
    """
    paths = [(identity, tokens) for identity, alternatives in patterns.items() for tokens in alternatives]
    state_keys: list[list[Hashable]] = []
    weight: dict[Hashable, set[Hashable]] = {}
    for identity, tokens in paths:
        keys: list[Hashable] = []
        for length in range(len(tokens) + 1):
            prefix = tokens[:length]
            key: Hashable = ("shared", prefix) if _STAR not in prefix[:-1] else ("own", tokens, length)
            keys.append(key)
            if length:
                weight.setdefault(key, set()).add(identity)
        state_keys.append(keys)

    def close(states: set[tuple[int, int]]) -> frozenset[tuple[int, int]]:
        # A wildcard matches the empty string, so a prefix ending before one also matches the one after.
        pending = list(states)
        while pending:
            which, length = pending.pop()
            tokens = paths[which][1]
            if length < len(tokens) and tokens[length] == _STAR and (which, length + 1) not in states:
                states.add((which, length + 1))
                pending.append((which, length + 1))
        return frozenset(states)

    def step(states: frozenset[tuple[int, int]], byte: int) -> frozenset[tuple[int, int]]:
        following: set[tuple[int, int]] = set()
        for which, length in states:
            tokens = paths[which][1]
            if length and tokens[length - 1] == _STAR:
                following.add((which, length))
            if length < len(tokens) and tokens[length] == byte:
                following.add((which, length + 1))
        return close(following)

    def score(states: frozenset[tuple[int, int]]) -> int:
        active = {state_keys[which][length] for which, length in states if length}
        return sum(len(weight[key]) for key in active)

    alphabet = {token for _, tokens in paths for token in tokens if token != _STAR} | {_OTHER_BYTE}
    start = close({(which, 0) for which in range(len(paths))})
    seen = {start}
    pending = [start]
    worst = 0
    while pending:
        states = pending.pop()
        for byte in alphabet:
            following = step(states, byte)
            if not following:
                continue
            worst = max(worst, score(following))
            if worst > _MAX_WILDCARD_COMPLEXITY:
                return worst
            if following not in seen:
                if len(seen) >= _MAX_COMPLEXITY_STATE_SETS:
                    return _MAX_WILDCARD_COMPLEXITY + 1
                seen.add(following)
                pending.append(following)
    return worst


# --- events -------------------------------------------------------------------------------------------


def _flatten(event: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Every leaf value of the event by dotted path; arrays add their elements to the same path."""
    values: dict[str, list[Any]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, child in node.items():
                walk(child, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for child in node:
                walk(child, path)
        elif path:
            values.setdefault(path, []).append(node)

    walk(event, "")
    return values


def _field_matches(matchers: list[_Matcher], values: Sequence[Any]) -> bool:
    if not values:
        return any(matcher.absent for matcher in matchers)
    return any(matcher.test(value) for matcher in matchers for value in values)


# --- JSON helpers -------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _is_object(value: Any) -> bool:
    return isinstance(value, _Pairs | Mapping)


def _is_array(value: Any) -> bool:
    return isinstance(value, list) and not isinstance(value, _Pairs)


def _items(node: Mapping[str, Any] | _Pairs) -> Iterator[tuple[str, Any]]:
    if isinstance(node, _Pairs):
        return iter(node)
    return iter(node.items())


def _freeze(node: Any) -> Hashable:
    """A hashable key for a pattern that keeps what matters to AWS, such as a number's exact text."""
    if _is_object(node):
        return ("object", tuple((key, _freeze(value)) for key, value in _items(node)))
    if isinstance(node, list):
        return ("array", tuple(_freeze(value) for value in node))
    if isinstance(node, bool) or node is None:
        return ("literal", node)
    if _is_number(node):
        return ("number", _number_text(node))
    return ("string", node) if isinstance(node, str) else ("other", repr(node))


def _to_dict(node: Any) -> Any:
    """Plain dicts from parsed pairs, resolving repeated keys the way AWS's rule compiler does."""
    if isinstance(node, _Pairs):
        result: dict[str, Any] = {}
        for key, value in node:
            _merge(result, key, _to_dict(value))
        return result
    if isinstance(node, list):
        return [_to_dict(value) for value in node]
    return node


def _merge(target: dict[str, Any], key: str, value: Any) -> None:
    if key not in target:
        target[key] = value
        return
    previous = target[key]
    if key == _OR and _is_array(previous) and _is_array(value):
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
        if key == _OR and _is_array(value):
            _merge(result, _OR, [_prefixed(alt, prefix) if isinstance(alt, dict) else alt for alt in value])
        else:
            _merge(result, f"{prefix}.{key}", value)
    return result
