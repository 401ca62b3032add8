"""Resolves the CloudFormation intrinsic functions CDK emits (Ref, GetAtt, Join, Sub, conditions...)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from localcloud.deploy.resources.common import DeployError, partition_of


class IntrinsicError(DeployError):
    """An intrinsic function could not be resolved (unknown function, missing export, bad reference)."""


INTRINSIC_FUNCTIONS = frozenset(
    {
        "Fn::GetAtt",
        "Fn::Join",
        "Fn::Sub",
        "Fn::Select",
        "Fn::Split",
        "Fn::ImportValue",
        "Fn::GetAZs",
        "Fn::If",
        "Fn::Equals",
        "Fn::Not",
        "Fn::And",
        "Fn::Or",
        "Fn::FindInMap",
        "Fn::Base64",
        "Fn::ToJsonString",
        "Fn::Length",
    }
)


def unknown_functions(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if len(value) == 1:
            key = next(iter(value))
            if key.startswith("Fn::") and key not in INTRINSIC_FUNCTIONS:
                yield key
        for item in value.values():
            yield from unknown_functions(item)
    elif isinstance(value, list):
        for item in value:
            yield from unknown_functions(item)


class _NoValue:
    """AWS::NoValue: the property (or list item) disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _sub_names(template: str) -> Iterator[str]:
    for match in SUB_VARIABLE.finditer(template):
        if not match.group(1).startswith("!"):  # ${!Literal} is an escaped "${Literal}"
            yield match.group(1).strip()


def references(value: Any) -> Iterator[str]:
    """Every logical id (or parameter) a value refers to through Ref, Fn::GetAtt and Fn::Sub."""
    if isinstance(value, dict):
        if len(value) == 1:
            key, arg = next(iter(value.items()))
            if key == "Ref" and isinstance(arg, str):
                yield arg
                return
            if key == "Fn::GetAtt":
                yield (arg.split(".", 1)[0] if isinstance(arg, str) else str(arg[0]))
                yield from references(arg[1:] if isinstance(arg, list) else [])
                return
            if key == "Fn::Sub":
                template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                local = frozenset(variables)
                yield from (n.split(".", 1)[0] for n in _sub_names(template) if n not in local)
                yield from references(variables)
                return
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


class Resolver:
    """Resolves the intrinsic functions CDK emits, for one stack."""

    def __init__(
        self,
        *,
        stack: str,
        template: Mapping[str, Any],
        account_id: str,
        region: str,
        exports: Mapping[str, str],
        resource_ref: Callable[[str], str],
        resource_attribute: Callable[[str, str], Any],
        ssm_parameter: Callable[[str], str],
        availability_zones: Callable[[str], list[str]],
    ) -> None:
        self.stack = stack
        self.template = template
        self.account_id = account_id
        self.region = region
        self.exports = exports
        self._resource_ref = resource_ref
        self._resource_attribute = resource_attribute
        self._ssm_parameter = ssm_parameter
        self._availability_zones = availability_zones
        self._functions = self._function_table()
        assert set(self._functions) == INTRINSIC_FUNCTIONS
        self._conditions: dict[str, bool] = {}
        self._parameters: dict[str, Any] = {}
        self.stack_id = (
            f"arn:{partition_of(region)}:cloudformation:{region}:{account_id}:stack/{stack}/"
            f"{uuid.uuid5(uuid.NAMESPACE_URL, f'{account_id}/{region}/{stack}')}"
        )

    # -- public

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                key, arg = next(iter(value.items()))
                if key == "Ref":
                    return self.ref(str(arg))
                if key.startswith("Fn::"):
                    return self._function(key, arg)
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions", {})
            if name not in conditions:
                raise IntrinsicError(f"unknown condition {name!r}")
            self._conditions[name] = self._truth(conditions[name])
        return self._conditions[name]

    def ref(self, name: str) -> Any:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.template.get("Parameters", {}):
            return self._parameter(name)
        if name in self.template.get("Resources", {}):
            return self._resource_ref(name)
        raise IntrinsicError(f"Ref to unknown {name!r}")

    # -- internals

    def _pseudo(self, name: str) -> Any:
        partition = partition_of(self.region)
        values: dict[str, Any] = {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
            "AWS::StackName": self.stack,
            "AWS::StackId": self.stack_id,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        return values.get(name)

    def _parameter(self, name: str) -> Any:
        if name not in self._parameters:
            spec = self.template["Parameters"][name]
            if "Default" not in spec:
                raise IntrinsicError(f"parameter {name!r} has no Default, and localcloud takes no values")
            type_, value = str(spec.get("Type", "String")), spec["Default"]
            if type_.startswith("AWS::SSM::Parameter::Value<"):
                # Read lazily: CDK's BootstrapVersion is only used by Rules, which are not evaluated here.
                value = self._ssm_parameter(str(value))
            if type_.startswith("List<") or type_ == "CommaDelimitedList" or "<List<" in type_:
                value = [v.strip() for v in str(value).split(",")]
            self._parameters[name] = value if isinstance(value, list) else str(value)
        return self._parameters[name]

    def text(self, value: Any, where: str) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        raise IntrinsicError(f"{where} needs a string, got {value!r}")

    def _list(self, value: Any, where: str) -> list[Any]:
        resolved = self.resolve(value)
        if not isinstance(resolved, list):
            raise IntrinsicError(f"{where} needs a list, got {resolved!r}")
        return resolved

    def _truth(self, expression: Any) -> bool:
        if isinstance(expression, dict) and list(expression) == ["Condition"]:
            return self.condition(str(expression["Condition"]))
        value = self.resolve(expression)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise IntrinsicError(f"not a condition: {expression!r}")

    def _function(self, key: str, arg: Any) -> Any:
        if key not in self._functions:
            raise IntrinsicError(f"unsupported intrinsic function {key} ({json.dumps(arg)[:120]})")
        return self._functions[key](arg)

    def _function_table(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Fn::GetAtt": self._get_att,
            "Fn::Join": self._join,
            "Fn::Sub": self._sub,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::ImportValue": self._import_value,
            "Fn::GetAZs": self._get_azs,
            "Fn::If": self._if,
            "Fn::Equals": lambda a: self.resolve(a[0]) == self.resolve(a[1]),
            "Fn::Not": lambda a: not self._truth(a[0]),
            "Fn::And": lambda a: all(self._truth(c) for c in a),
            "Fn::Or": lambda a: any(self._truth(c) for c in a),
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": lambda a: base64.b64encode(
                self.text(self.resolve(a), "Fn::Base64").encode()
            ).decode(),
            "Fn::ToJsonString": lambda a: json.dumps(self.resolve(a), separators=(",", ":")),
            "Fn::Length": lambda a: len(self._list(a, "Fn::Length")),
        }

    def _get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical_id, attribute = arg.split(".", 1)
        else:
            logical_id, attribute = str(arg[0]), self.text(self.resolve(arg[1]), "Fn::GetAtt")
        if logical_id not in self.template.get("Resources", {}):
            raise IntrinsicError(f"Fn::GetAtt of unknown resource {logical_id!r}")
        return self._resource_attribute(logical_id, attribute)

    def _join(self, arg: Any) -> str:
        delimiter, items = arg
        return str(delimiter).join(self.text(v, "Fn::Join") for v in self._list(items, "Fn::Join"))

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            template, variables = arg, {}
        else:
            template, variables = str(arg[0]), {k: self.resolve(v) for k, v in arg[1].items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                return self.text(variables[name], f"Fn::Sub ${{{name}}}")
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.text(self._get_att([logical_id, attribute]), f"Fn::Sub ${{{name}}}")
            return self.text(self.ref(name), f"Fn::Sub ${{{name}}}")

        return SUB_VARIABLE.sub(substitute, template)

    def _select(self, arg: Any) -> Any:
        index = int(self.text(self.resolve(arg[0]), "Fn::Select"))
        items = self._list(arg[1], "Fn::Select")
        if not 0 <= index < len(items):
            raise IntrinsicError(f"Fn::Select index {index} out of range of {items!r}")
        return items[index]

    def _split(self, arg: Any) -> list[str]:
        delimiter, source = arg
        return self.text(self.resolve(source), "Fn::Split").split(str(delimiter))

    def _import_value(self, arg: Any) -> str:
        name = self.text(self.resolve(arg), "Fn::ImportValue")
        if name not in self.exports:
            raise IntrinsicError(f"Fn::ImportValue of {name!r}, which no deployed stack exports")
        return self.exports[name]

    def _get_azs(self, arg: Any) -> list[str]:
        region = self.resolve(arg) or self.region
        return self._availability_zones(str(region))

    def _if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(str(name)) else when_false)

    def _find_in_map(self, arg: Any) -> Any:
        map_name, first, second = (self.text(self.resolve(a), "Fn::FindInMap") for a in arg[:3])
        mapping = self.template.get("Mappings", {}).get(map_name, {})
        try:
            return self.resolve(mapping[first][second])
        except KeyError:
            if len(arg) > 3 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"])
            raise IntrinsicError(f"Fn::FindInMap found no {map_name}/{first}/{second}") from None
