"""The payload EventBridge hands a rule target: the event itself, Input, InputPath or InputTransformer."""

# AWS behaviour reproduced here (from its documentation and from payloads recorded against AWS):
# - a template starting with { or [ is JSON: a placeholder outside quotes becomes the value as JSON
#   (strings quoted), one inside quotes becomes the value's text, unescaped; the result must be JSON and
#   is delivered minified;
# - any other template (CDK's from_text / from_multiline_text give JSON string literals) is plain text:
#   placeholders become the value's text, objects and arrays lose their quotes ({a:b}), nothing is checked;
# - a path that matches nothing gives an empty value: "" as a JSON value, nothing as text.

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["InputTransformError", "target_input"]

_PLACEHOLDER: Final = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_PATH_KEY: Final = re.compile(r"[A-Za-z0-9_\-]+")
_PATH_STEP: Final = re.compile(
    r"""(?P<wildcard>\.\*|\[\*\])|\.(?P<name>[^.\[\]]+)|\[(?P<index>-?[0-9]+)\]|\[(?P<quoted>'[^']*'|"[^"]*")\]"""
)
_RULE_ARN: Final = "aws.events.rule-arn"
_RULE_NAME: Final = "aws.events.rule-name"
_INGESTION_TIME: Final = "aws.events.event.ingestion-time"
_EVENT: Final = "aws.events.event"
_EVENT_JSON: Final = "aws.events.event.json"
_PREDEFINED: Final = frozenset({_RULE_ARN, _RULE_NAME, _INGESTION_TIME, _EVENT, _EVENT_JSON})
# The order AWS gives the envelope fields in <aws.events.event>, which also renames detail-type.
_EVENT_FIELD_ORDER: Final = (
    "id",
    "account",
    "detail-type",
    "time",
    "source",
    "region",
    "resources",
    "version",
)


class InputTransformError(ValueError):
    """No target input can be produced: AWS would refuse the target or fail the delivery."""


class _Missing:
    """The value of a path that matches nothing in the event."""


_MISSING: Final = _Missing()


def target_input(
    event: Mapping[str, Any],
    *,
    input: str | None = None,
    input_path: str | None = None,
    input_transformer: Mapping[str, Any] | None = None,
    rule_arn: str | None = None,
    rule_name: str | None = None,
    ingestion_time: str | None = None,
) -> str:
    """The exact text EventBridge delivers to a target configured with at most one of the three inputs."""
    if sum(option is not None for option in (input, input_path, input_transformer)) > 1:
        raise InputTransformError("Only one of Input, InputPath, or InputTransformer must be provided.")
    if input is not None:
        return input
    if input_path is not None:
        value = _resolve(event, input_path)
        if isinstance(value, _Missing):
            raise InputTransformError(f"InputPath {input_path} matches nothing in the event.")
        return _json(value)
    if input_transformer is not None:
        predefined = {
            _RULE_ARN: rule_arn or "",
            _RULE_NAME: rule_name or "",
            _INGESTION_TIME: ingestion_time or event.get("time", ""),
            _EVENT: _event_without_detail(event, ingestion_time),
            _EVENT_JSON: event,
        }
        return _transform(event, input_transformer, predefined)
    return _json(event)


def _transform(event: Mapping[str, Any], transformer: Mapping[str, Any], predefined: dict[str, Any]) -> str:
    template = transformer.get("InputTemplate")
    if not isinstance(template, str):
        raise InputTransformError("InputTransformer needs an InputTemplate string.")
    paths = transformer.get("InputPathsMap") or {}
    if not isinstance(paths, Mapping):
        raise InputTransformError("InputPathsMap must map variable names to JSON paths.")
    values = dict(predefined)
    for name, path in paths.items():
        if name in _PREDEFINED:
            raise InputTransformError(f"InputPathsMap cannot redefine the reserved variable {name}.")
        if not isinstance(name, str) or not _PATH_KEY.fullmatch(name):
            raise InputTransformError(f"InputPathsMap has an invalid variable name {name!r}.")
        if not isinstance(path, str):
            raise InputTransformError(f"InputPathsMap path for {name} must be a string.")
        values[name] = _resolve(event, path)
    if template.lstrip()[:1] in ("{", "["):
        return _render_json(template, values)
    return _render_text(template, values)


def _render_text(template: str, values: dict[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        return _as_text(_value_for(match.group(1), values), strip_quotes=True)

    return _PLACEHOLDER.sub(replace, template)


def _render_json(template: str, values: dict[str, Any]) -> str:
    pieces: list[str] = []
    in_string = False
    index = 0
    while index < len(template):
        char = template[index]
        if char == "<" and (match := _PLACEHOLDER.match(template, index)):
            value = _value_for(match.group(1), values)
            if in_string:
                # AWS inserts the text unescaped, so a quote in a value breaks the JSON (and the delivery).
                pieces.append(_as_text(value, strip_quotes=False))
            else:
                pieces.append('""' if isinstance(value, _Missing) else _json(value))
            index = match.end()
            continue
        if in_string and char == "\\":
            pieces.append(template[index : index + 2])
            index += 2
            continue
        if char == '"':
            in_string = not in_string
        pieces.append(char)
        index += 1
    rendered = "".join(pieces)
    try:
        json.loads(rendered, parse_constant=_reject_constant)
    except ValueError as error:
        raise InputTransformError(f"InputTemplate renders invalid JSON ({error}): {rendered}") from None
    return _minified(rendered)


def _value_for(name: str, values: dict[str, Any]) -> Any:
    if name not in values:
        # AWS refuses such a target up front ("contains invalid placeholder"); it is never delivered.
        raise InputTransformError(f"InputTemplate contains invalid placeholder {name}.")
    return values[name]


def _as_text(value: Any, *, strip_quotes: bool) -> str:
    if isinstance(value, _Missing):
        return ""
    if isinstance(value, str):
        return value
    text = _json(value)
    # Within text AWS drops the quotes of an object or array: {"a":"b"} reads {a:b}.
    return text.replace('"', "") if strip_quotes and isinstance(value, Mapping | list) else text


def _event_without_detail(event: Mapping[str, Any], ingestion_time: str | None) -> dict[str, Any]:
    envelope: dict[str, Any] = {}
    for key in _EVENT_FIELD_ORDER:
        if key in event:
            envelope["detailType" if key == "detail-type" else key] = event[key]
    for key, value in event.items():
        if key not in _EVENT_FIELD_ORDER and key != "detail":
            envelope[key] = value
    if ingestion_time is not None:
        envelope["time"] = ingestion_time
    return envelope


def _resolve(event: Mapping[str, Any], path: str) -> Any:
    """The value at a JSONPath ($, $.a.b, $.a[0], $['a'], with * wildcards); _MISSING if none."""
    if not path.startswith("$"):
        raise InputTransformError(f"Invalid JSON path {path}: it must start with $.")
    nodes: list[Any] = [event]
    spread = False
    position = 1
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            raise InputTransformError(f"Invalid JSON path {path} at character {position}.")
        position = step.end()
        found: list[Any] = []
        for node in nodes:
            if step.group("wildcard"):
                spread = True
                if isinstance(node, Mapping):
                    found.extend(node.values())
                elif isinstance(node, list):
                    found.extend(node)
            elif step.group("index") is not None:
                index = int(step.group("index"))
                if isinstance(node, list) and -len(node) <= index < len(node):
                    found.append(node[index])
            else:
                key = step.group("name") if step.group("name") is not None else step.group("quoted")[1:-1]
                if isinstance(node, Mapping) and key in node:
                    found.append(node[key])
        nodes = found
    # A path with a wildcard selects a list of matches, as JSONPath does; a plain path one value.
    if spread:
        return nodes
    return nodes[0] if nodes else _MISSING


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _minified(text: str) -> str:
    """The JSON text without whitespace between tokens, every other character kept as written."""
    pieces: list[str] = []
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            pieces.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            pieces.append(char)
        elif char not in " \t\n\r":
            pieces.append(char)
    return "".join(pieces)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
