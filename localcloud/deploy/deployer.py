"""Deploys the synthesized CDK app (cdk.out) into moto through the AWS service APIs, stack by stack."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.resources import (
    HANDLERS,
    ApiRoute,
    Created,
    DeployedFunction,
    DeployError,
    Deployment,
    ResourceCall,
    partition_of,
)

__all__ = [
    "NOT_EMULATED",
    "ApiRoute",
    "DeployError",
    "DeployResult",
    "DeployedFunction",
    "IntrinsicError",
    "UnsupportedResourceType",
    "deploy",
]

# Deliberately not emulated: recorded in DeployResult.skipped, and the deployment goes on.
NOT_EMULATED: dict[str, str] = {
    "AWS::CloudFormation::WaitConditionHandle": "a placeholder with nothing behind it",
    "AWS::CloudFormation::WaitCondition": "nothing sends it a signal locally",
    "AWS::Lambda::LayerVersionPermission": "one local account: there is nobody to share a layer with",
    "AWS::Lambda::CodeSigningConfig": "code signatures are not checked locally",
    "AWS::Logs::SubscriptionFilter": "log subscriptions are not delivered locally",
    "AWS::XRay::Group": "tracing is not emulated",
    "AWS::XRay::SamplingRule": "tracing is not emulated",
    "AWS::WAFv2::WebACL": "no WAF in front of the local API",
    "AWS::WAFv2::WebACLAssociation": "no WAF in front of the local API",
    "AWS::CertificateManager::Certificate": "no TLS certificates locally",
    "AWS::Route53::RecordSet": "no DNS locally",
    "AWS::ApiGateway::DomainName": "custom domains need DNS and certificates",
    "AWS::ApiGateway::BasePathMapping": "custom domains need DNS and certificates",
    "AWS::ApiGateway::DocumentationPart": "API documentation only",
    "AWS::ApiGateway::DocumentationVersion": "API documentation only",
}
# Nothing to create: CDK's analytics metadata.
IGNORED = frozenset({"AWS::CDK::Metadata"})
# What Ref/GetAtt of a skipped resource yields; a note says who used it.
NOT_EMULATED_VALUE = "{logical_id}-not-emulated"


class UnsupportedResourceType(DeployError):
    """A template holds a type localcloud neither creates nor deliberately skips."""

    def __init__(self, type_: str, stack: str, logical_id: str) -> None:
        super().__init__(
            f"unsupported resource type {type_} ({stack}/{logical_id}): add a handler in "
            "localcloud/resources.py or list it in localcloud.deployer.NOT_EMULATED with a reason"
        )
        self.type, self.stack, self.logical_id = type_, stack, logical_id


class IntrinsicError(DeployError):
    """An intrinsic function could not be resolved (unknown function, missing export, bad reference)."""


@dataclass
class DeployResult:
    """Outputs in `cdk deploy --outputs-file` shape, physical ids, the functions, and what was skipped."""

    outputs: dict[str, dict[str, str]]
    physical_ids: dict[str, dict[str, str]]
    functions: list[DeployedFunction]
    skipped: list[tuple[str, str, str]]
    seconds: float
    # Every REST API method, for the HTTP proxy layer (moto cannot invoke AWS_PROXY integrations).
    api_routes: list[ApiRoute] = field(default_factory=list)
    # What was adapted on the way (dropped layers, unknown managed policies, ignored properties...).
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the cloud assembly


@dataclass(frozen=True)
class StackArtifact:
    name: str
    template: dict[str, Any]
    dependencies: tuple[str, ...]


def read_assembly(cdk_out: Path) -> tuple[list[StackArtifact], dict[str, Path]]:
    """The stacks in deployment order, and every file asset's directory by its S3 object key."""
    stacks: dict[str, StackArtifact] = {}
    assets: dict[str, Path] = {}
    _read_manifest(cdk_out, stacks, assets)
    return _in_dependency_order(stacks), assets


def _read_manifest(directory: Path, stacks: dict[str, StackArtifact], assets: dict[str, Path]) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    artifacts: dict[str, Any] = manifest.get("artifacts", {})
    names = {
        artifact_id: str(a.get("properties", {}).get("stackName") or artifact_id)
        for artifact_id, a in artifacts.items()
        if a.get("type") == "aws:cloudformation:stack"
    }
    for artifact_id, artifact in artifacts.items():
        kind, properties = artifact.get("type"), artifact.get("properties", {})
        if kind == "cdk:asset-manifest":
            _read_asset_manifest(directory, directory / properties["file"], assets)
        elif kind == "cdk:cloud-assembly":  # a CDK Stage: a nested assembly
            _read_manifest(directory / properties["directoryName"], stacks, assets)
        elif kind == "aws:cloudformation:stack":
            template = json.loads((directory / properties["templateFile"]).read_text())
            dependencies = tuple(names[d] for d in artifact.get("dependencies", []) if d in names)
            stacks[names[artifact_id]] = StackArtifact(names[artifact_id], template, dependencies)


def _read_asset_manifest(directory: Path, path: Path, assets: dict[str, Path]) -> None:
    for asset_hash, asset in json.loads(path.read_text()).get("files", {}).items():
        source = directory / asset["source"]["path"]
        assets[asset_hash] = source
        for destination in asset.get("destinations", {}).values():
            assets[str(destination["objectKey"])] = source


def _in_dependency_order(stacks: Mapping[str, StackArtifact]) -> list[StackArtifact]:
    return [stacks[name] for name in _topological(list(stacks), lambda n: stacks[n].dependencies, "stacks")]


def _topological(nodes: list[str], depends_on: Callable[[str], Iterable[str]], what: str) -> list[str]:
    """Dependency order, keeping the given order wherever dependencies allow (stable, readable logs)."""
    ordered: list[str] = []
    done: set[str] = set()
    remaining = list(nodes)
    while remaining:
        ready = [n for n in remaining if all(d in done or d not in nodes for d in depends_on(n))]
        if not ready:
            raise DeployError(f"circular dependency among {what}: {', '.join(remaining)}")
        for node in ready:
            ordered.append(node)
            done.add(node)
        remaining = [n for n in remaining if n not in done]
    return ordered


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


def _unknown_functions(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if len(value) == 1:
            key = next(iter(value))
            if key.startswith("Fn::") and key not in INTRINSIC_FUNCTIONS:
                yield key
        for item in value.values():
            yield from _unknown_functions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _unknown_functions(item)


def is_custom(type_: str) -> bool:
    return type_.startswith("Custom::") or type_ == "AWS::CloudFormation::CustomResource"


def validate(stacks: Iterable[StackArtifact]) -> None:
    """Every resource type is created, skipped on purpose or ignored: else fail before creating anything."""
    for stack in stacks:
        if stack.template.get("Transform"):
            raise DeployError(
                f"{stack.name}: template transforms ({stack.template['Transform']}) are not supported"
            )
        for logical_id, resource in stack.template.get("Resources", {}).items():
            type_ = str(resource.get("Type"))
            if type_ in HANDLERS or type_ in IGNORED or type_ in NOT_EMULATED or is_custom(type_):
                if type_ == "AWS::Lambda::Function" and "ImageUri" in resource.get("Properties", {}).get(
                    "Code", {}
                ):
                    raise DeployError(
                        f"{stack.name}/{logical_id}: container-image functions cannot run in-process"
                    )
                continue
            raise UnsupportedResourceType(type_, stack.name, logical_id)
        for section in ("Resources", "Outputs", "Conditions"):
            for name, item in stack.template.get(section, {}).items():
                for function in _unknown_functions(item):
                    raise IntrinsicError(f"unsupported intrinsic function {function} in {stack.name}/{name}")


# ---------------------------------------------------------------- intrinsic functions


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


# ---------------------------------------------------------------- one stack


class _StackDeployer:
    def __init__(self, stack: StackArtifact, deployment: Deployment, exports: dict[str, str]) -> None:
        self.stack = stack
        self.deployment = deployment
        self.resources: dict[str, Any] = stack.template.get("Resources", {})
        self.created: dict[str, Created] = {}
        self.skipped: list[tuple[str, str, str]] = []
        self.skipped_ids: set[str] = set()
        self.resolver = Resolver(
            stack=stack.name,
            template=stack.template,
            account_id=deployment.account_id,
            region=deployment.region,
            exports=exports,
            resource_ref=self._ref,
            resource_attribute=self._attribute,
            ssm_parameter=self._ssm_parameter,
            availability_zones=self._availability_zones,
        )

    def deploy(self) -> dict[str, str]:
        for logical_id in self._creation_order():
            self._create(logical_id)
        return self._outputs()

    def exports(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for output in self.stack.template.get("Outputs", {}).values():
            if "Export" in output and self._wanted(output):
                found[self.resolver.resolve(output["Export"]["Name"])] = self._output_text(output["Value"])
        return found

    # -- ordering

    def _creation_order(self) -> list[str]:
        wanted = [lid for lid, resource in self.resources.items() if self._wanted(resource)]

        def depends_on(logical_id: str) -> set[str]:
            resource = self.resources[logical_id]
            explicit = resource.get("DependsOn", [])
            found = set(references(resource.get("Properties", {})))
            found.update([explicit] if isinstance(explicit, str) else explicit)
            return {d for d in found if d in self.resources and d != logical_id}

        return _topological(wanted, depends_on, f"the resources of {self.stack.name}")

    def _wanted(self, item: Mapping[str, Any]) -> bool:
        return "Condition" not in item or self.resolver.condition(str(item["Condition"]))

    # -- creation

    def _create(self, logical_id: str) -> None:
        resource = self.resources[logical_id]
        type_ = str(resource["Type"])
        if type_ in IGNORED:
            return
        if type_ not in HANDLERS:
            self.skipped.append((self.stack.name, logical_id, type_))
            self.skipped_ids.add(logical_id)
            return
        try:
            props = self.resolver.resolve(resource.get("Properties", {}))
            call = ResourceCall(
                deployment=self.deployment,
                stack=self.stack.name,
                logical_id=logical_id,
                type=type_,
                props=props,
                metadata=dict(resource.get("Metadata", {})),
            )
            self.created[logical_id] = HANDLERS[type_](call)
        except IntrinsicError as exc:
            raise IntrinsicError(f"{self.stack.name}/{logical_id} ({type_}): {exc}") from exc
        except DeployError as exc:
            raise DeployError(f"{self.stack.name}/{logical_id} ({type_}): {exc}") from exc
        except Exception as exc:  # a ClientError or ParamValidationError, named with its resource
            raise DeployError(
                f"{self.stack.name}/{logical_id} ({type_}): {type(exc).__name__}: {exc}"
            ) from exc

    def _skipped_value(self, logical_id: str, what: str) -> str:
        self.deployment.notes.append(
            f"{self.stack.name}: {what} of not-emulated {logical_id} resolved to a placeholder"
        )
        return NOT_EMULATED_VALUE.format(logical_id=logical_id)

    def _ref(self, logical_id: str) -> str:
        if logical_id in self.created:
            return self.created[logical_id].physical_id
        if logical_id in self.skipped_ids:
            return self._skipped_value(logical_id, "Ref")
        raise IntrinsicError(f"Ref to {logical_id}, which is not created (yet, or by its Condition)")

    def _attribute(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.created:
            if logical_id in self.skipped_ids:
                return self._skipped_value(logical_id, f"Fn::GetAtt {attribute}")
            raise IntrinsicError(f"Fn::GetAtt of {logical_id}, which is not created")
        attributes = self.created[logical_id].attributes
        if attribute not in attributes:
            provided = ", ".join(sorted(attributes)) or "no attributes"
            raise IntrinsicError(
                f"Fn::GetAtt {logical_id}.{attribute}: {self.resources[logical_id]['Type']} "
                f"provides {provided} locally"
            )
        return attributes[attribute]

    def _ssm_parameter(self, name: str) -> str:
        try:
            return str(self.deployment.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
        except Exception as exc:
            raise IntrinsicError(f"SSM parameter {name!r} for a template parameter: {exc}") from exc

    def _availability_zones(self, region: str) -> list[str]:
        zones = self.deployment.client("ec2").describe_availability_zones()["AvailabilityZones"]
        return sorted(z["ZoneName"] for z in zones if z.get("RegionName", region) == region)

    # -- outputs

    def _output_text(self, value: Any) -> str:
        resolved = self.resolver.resolve(value)
        # CloudFormation outputs are strings; a list (e.g. Fn::GetAZs) comes out comma-joined.
        return (
            ",".join(map(str, resolved))
            if isinstance(resolved, list)
            else self.resolver.text(resolved, "Output")
        )

    def _outputs(self) -> dict[str, str]:
        outputs: dict[str, str] = {}
        for key, output in self.stack.template.get("Outputs", {}).items():
            try:
                if self._wanted(output):
                    outputs[key] = self._output_text(output["Value"])
            except IntrinsicError as exc:
                raise IntrinsicError(f"{self.stack.name} output {key}: {exc}") from exc
        return outputs


# ---------------------------------------------------------------- the entry point


def deploy(
    cdk_out: Path,
    *,
    session: Any,
    endpoint_url: str | None,
    account_id: str = "123456789012",
    region: str = "us-east-1",
    on_function: Callable[[DeployedFunction], None] | None = None,
) -> DeployResult:
    """Deploys every stack of the cloud assembly, in dependency order, into a fresh moto.

    `session` is a boto3 Session; clients go to `endpoint_url` (a moto server), or, with None, wherever
    boto3 would send them (only inside moto's `mock_aws`). Validates every template before creating
    anything; raises UnsupportedResourceType for a type that is neither handled nor in NOT_EMULATED.
    """
    started = time.perf_counter()
    cdk_out = Path(cdk_out).resolve()
    stacks, assets = read_assembly(cdk_out)
    validate(stacks)
    deployment = Deployment(
        session=session,
        endpoint_url=endpoint_url,
        account_id=account_id,
        region=region,
        cdk_out=cdk_out,
        assets=assets,
        on_function=on_function,
    )
    exports: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    physical_ids: dict[str, dict[str, str]] = {}
    skipped: list[tuple[str, str, str]] = []
    for stack in stacks:
        deployer = _StackDeployer(stack, deployment, exports)
        outputs[stack.name] = deployer.deploy()
        exports.update(deployer.exports())
        physical_ids[stack.name] = {lid: created.physical_id for lid, created in deployer.created.items()}
        skipped.extend(deployer.skipped)
    return DeployResult(
        outputs=outputs,
        physical_ids=physical_ids,
        functions=deployment.functions,
        skipped=skipped,
        seconds=time.perf_counter() - started,
        api_routes=deployment.api_routes,
        notes=deployment.notes,
    )
