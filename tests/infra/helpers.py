"""Small readers over synthesized templates: find resources, follow Refs and GetAtts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Template = dict[str, Any]


def resources(templates: dict[str, Template], type_: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(stack, logical id, properties) of every resource of a type, across all stacks."""
    for stack, template in templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] == type_:
                yield stack, logical_id, resource.get("Properties", {})


def referenced_id(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` points at, if it is one."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def resource(templates: dict[str, Template], stack: str, logical_id: str) -> dict[str, Any]:
    return dict(templates[stack]["Resources"][logical_id])


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
