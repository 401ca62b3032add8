"""Compiling a pattern as AWS does: the rules an invalid pattern breaks, in AWS's order and words."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

from localcloud.eventbridge import pattern_matching as matching
from localcloud.eventbridge.pattern_complexity import too_complex
from localcloud.eventbridge.pattern_json import (
    OR,
    NumberKey,
    Pairs,
    is_array,
    is_number,
    is_object,
    number_key,
    number_text,
    object_items,
)
from localcloud.eventbridge.pattern_matching import STAR, Branch, Matcher, NotAnAddress

_REASON_PREFIX: Final = "Event pattern is not valid. Reason: "
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
_MASK_BITS: Final = re.compile(r"[+-]?[0-9]+")


class InvalidEventPattern(ValueError):
    """A pattern AWS refuses; ``message`` is the text of AWS's InvalidEventPatternException."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.message = _REASON_PREFIX + reason
        super().__init__(self.message)


def compile_branches(pattern: Mapping[str, Any] | Pairs) -> list[Branch]:
    """The pattern's alternative branches, or InvalidEventPattern with the first problem AWS reports."""
    compiler = _Compiler()
    compiler.object(pattern, [], in_or=False)
    if too_complex(compiler.branches):
        raise InvalidEventPattern(_TOO_COMPLEX)
    return compiler.branches


class _Compiler:
    """Walks a pattern in document order, building branches of path -> matchers like event-ruler."""

    def __init__(self) -> None:
        self.branches: list[Branch] = []

    def object(self, node: Mapping[str, Any] | Pairs, path: list[str], *, in_or: bool) -> None:
        has_fields = False
        for key, value in object_items(node):
            has_fields = True
            if key == OR:
                self.any_of(value, path)
                continue
            if in_or and key in _RESERVED_IN_OR:
                raise InvalidEventPattern(
                    f"{key} is Ruler reserved fieldName which cannot be used inside {OR}."
                )
            if is_object(value):
                self.object(value, [*path, key], in_or=in_or)
            elif is_array(value):
                self.field(".".join([*path, key]), value)
            else:
                raise InvalidEventPattern(f'"{key}" must be an object or an array')
        if not has_fields:
            raise InvalidEventPattern("Empty objects are not allowed")

    def any_of(self, alternatives: Any, path: list[str]) -> None:
        # Each alternative forks every branch built so far; later fields then apply to all the forks.
        current = [dict(branch) for branch in self.branches]
        if not is_array(alternatives):
            raise InvalidEventPattern("It must be an Array followed with $or.")
        collected: list[Branch] = []
        count = 0
        for alternative in alternatives:
            count += 1
            if not is_object(alternative):
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

    def value(self, value: Any) -> Matcher:
        if is_object(value):
            return self.expression(value)
        if isinstance(value, str):
            # AWS turns a string that is an IP address into an address match: "::1" matches "0:0::1".
            address = matching.ip_or_none(value)
            if address is not None:
                return matching.address_range(address, address)
            return matching.equals(value)
        if isinstance(value, bool) or value is None:
            return matching.literal(value)
        if is_number(value):
            return matching.number_equals(value)
        raise InvalidEventPattern("Match value must be String, number, true, false, or null")

    def expression(self, node: Mapping[str, Any] | Pairs) -> Matcher:
        items = list(object_items(node))
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

    def exactly(self, argument: Any) -> tuple[Matcher, str]:
        if not isinstance(argument, str):
            raise InvalidEventPattern("exact match pattern must be a string")
        return matching.equals(argument), _ONE_KEY

    def prefix(self, argument: Any) -> tuple[Matcher, str]:
        if is_object(argument):
            text = _ignore_case_operand(argument, "Prefix", "prefix")
            return matching.prefix_ignore_case(text), _ONE_KEY
        if not isinstance(argument, str):
            raise InvalidEventPattern("prefix match pattern must be a string")
        return matching.prefix(argument), _ONE_KEY

    def suffix(self, argument: Any) -> tuple[Matcher, str]:
        if is_object(argument):
            text = _ignore_case_operand(argument, "Suffix", "suffix")
            return matching.suffix_ignore_case(text), _ONE_KEY
        if not isinstance(argument, str):
            raise InvalidEventPattern("suffix match pattern must be a string")
        return matching.suffix(argument), _ONE_KEY

    def equals_ignore_case(self, argument: Any) -> tuple[Matcher, str]:
        if not isinstance(argument, str):
            raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
        return matching.equals_ignore_case(argument), _ONE_KEY

    def wildcard(self, argument: Any) -> tuple[Matcher, str]:
        if not isinstance(argument, str):
            raise InvalidEventPattern("wildcard match pattern must be a string")
        return matching.wildcard(argument, _wildcard_tokens(argument)), _ONE_KEY

    def exists(self, argument: Any) -> tuple[Matcher, str]:
        if argument is True or argument is False:
            return matching.exists(argument), _ONE_KEY
        raise InvalidEventPattern("exists match pattern must be either true or false.")

    def cidr(self, argument: Any) -> tuple[Matcher, str]:
        if not isinstance(argument, str):
            # Sic: AWS reports a non-string cidr with the prefix message.
            raise InvalidEventPattern("prefix match pattern must be a string")
        low, high = _cidr_bounds(argument)
        return matching.address_range(low, high), _ONE_KEY

    def numeric(self, argument: Any) -> tuple[Matcher, str]:
        if not is_array(argument):
            raise InvalidEventPattern("Value of numeric must be an array.")
        return _numeric_range(list(argument)), _TOO_MANY_ELEMENTS

    def anything_but(self, argument: Any) -> tuple[Matcher, str]:
        if not is_object(argument):
            _check_anything_but_operand(argument)
            if is_array(argument):
                return _anything_but_values(list(argument)), _TOO_MANY_ELEMENTS
            return _anything_but_single(argument), _TOO_MANY_ELEMENTS
        inner = list(object_items(argument))
        if not inner:
            raise InvalidEventPattern("Anything-But expression name not found")
        operator, operand = inner[0]
        if operator not in _ANYTHING_BUT_OPERATORS:
            raise InvalidEventPattern(f"Unsupported anything-but pattern: {operator}")
        _check_anything_but_operand(operand)
        operands = list(operand) if is_array(operand) else [operand]
        matcher = _anything_but_set(operator, operands)
        if len(inner) > 1:
            raise InvalidEventPattern(_TOO_MANY_ELEMENTS)
        return matcher, _TOO_MANY_ELEMENTS

    _EXPRESSIONS: Final[dict[str, Callable[[_Compiler, Any], tuple[Matcher, str]]]] = {
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


def _ignore_case_operand(node: Mapping[str, Any] | Pairs, title: str, operator: str) -> str:
    """The string of {"prefix"|"suffix": {"equals-ignore-case": "..."}}, checked like AWS."""
    items = list(object_items(node))
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


# --- anything-but -------------------------------------------------------------------------------------


def _check_anything_but_operand(operand: Any) -> None:
    if not (is_array(operand) or isinstance(operand, str) or is_number(operand)):
        raise InvalidEventPattern("Value of anything-but must be an array or single string/number value.")


def _anything_but_single(operand: Any) -> Matcher:
    if isinstance(operand, str):
        return matching.anything_but_string(operand)
    return matching.anything_but_numbers({_required_key(operand)})


def _anything_but_values(operands: list[Any]) -> Matcher:
    strings: set[str] = set()
    numbers: set[NumberKey] = set()
    for operand in operands:
        if isinstance(operand, str):
            strings.add(operand)
        elif is_number(operand):
            numbers.add(_required_key(operand))
        else:
            raise InvalidEventPattern("Inside anything but list, start|null|boolean is not supported.")
    if bool(strings) == bool(numbers):
        raise InvalidEventPattern(
            "Inside anything but list, either all values are number or string, mixed type is not supported"
        )
    if strings:
        return matching.anything_but_strings(strings)
    return matching.anything_but_numbers(numbers)


def _anything_but_set(operator: str, operands: list[Any]) -> Matcher:
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
    if operator == "wildcard":
        wildcards = tuple(_wildcard_tokens(text) for text in texts)
    return matching.anything_but_matching(operator, texts, wildcards)


# --- numbers ------------------------------------------------------------------------------------------


def _numeric_range(terms: list[Any]) -> Matcher:
    """{"numeric": [...]}, validated term by term in AWS's order and with AWS's messages."""
    stream: Iterator[Any] = iter(terms)
    end = object()
    first = next(stream, end)
    if not isinstance(first, str):
        raise InvalidEventPattern(f"Invalid member in numeric match: {_token_text(first, end)}")
    operator = first
    operand = next(stream, end)
    if operator == "=":
        if not is_number(operand):
            raise InvalidEventPattern("Value of equals must be numeric")
        if next(stream, end) is not end:
            raise InvalidEventPattern(_TOO_MANY_ELEMENTS)
        return matching.key_equals(_required_key(operand))
    if operator in (">", ">="):
        if not is_number(operand):
            raise InvalidEventPattern(f"Value of {operator} must be numeric")
        bottom_open = operator == ">"
        following = next(stream, end)
        if following is end:
            return matching.between(_required_key(operand), bottom_open, None, False)
        if not isinstance(following, str):
            raise InvalidEventPattern(f"Bad value in numeric range: {_token_text(following, end)}")
        if following not in ("<", "<="):
            raise InvalidEventPattern(f"Bad numeric range operator: {following}")
        top = next(stream, end)
        if not is_number(top):
            raise InvalidEventPattern(f"Value of {following} must be numeric")
        if next(stream, end) is not end:
            raise InvalidEventPattern("Too many terms in numeric range expression")
        bottom_key, top_key = _required_key(operand), _required_key(top)
        if bottom_key >= top_key:
            raise InvalidEventPattern("Bottom must be less than top")
        return matching.between(bottom_key, bottom_open, top_key, following == "<")
    if operator in ("<", "<="):
        if not is_number(operand):
            raise InvalidEventPattern(f"Value of {operator} must be numeric")
        if next(stream, end) is not end:
            raise InvalidEventPattern(_TOO_MANY_ELEMENTS)
        return matching.between(None, False, _required_key(operand), operator == "<")
    raise InvalidEventPattern(f"Unrecognized numeric range operator: {operator}")


def _required_key(number: Any) -> NumberKey:
    key = number_key(number)
    if key is None:
        raise InvalidEventPattern(f"Cannot compare number : {number_text(number)}")
    return key


def _token_text(token: Any, end: object) -> str:
    """How AWS's JSON parser prints a token in error messages."""
    if token is end:
        return "]"
    if is_object(token):
        return "{"
    if is_array(token):
        return "["
    if isinstance(token, bool):
        return "true" if token else "false"
    if token is None:
        return "null"
    if is_number(token):
        return number_text(token)
    return str(token)


# --- wildcards and CIDRs ------------------------------------------------------------------------------


def _wildcard_tokens(text: str) -> tuple[int, ...]:
    """The UTF-8 bytes of the quoted pattern, with STAR for each wildcard; escapes as AWS parses them."""
    data = matching.quoted_bytes(text)
    tokens: list[int] = []
    index = 0
    # Positions in AWS's messages count bytes of the pattern with its opening quote, as here.
    while index < len(data):
        byte = data[index]
        if byte == ord("*"):
            if index + 1 < len(data) and data[index + 1] == ord("*"):
                raise InvalidEventPattern(f"Consecutive wildcard characters at pos {index}")
            tokens.append(STAR)
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
        address = matching.ip_bytes(parts[0])
    except NotAnAddress as error:
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
