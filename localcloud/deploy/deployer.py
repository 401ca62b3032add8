"""Deploys the synthesized CDK app (cdk.out) into moto through the AWS service APIs, stack by stack."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.deploy.assembly import StackArtifact, read_assembly, topological
from localcloud.deploy.intrinsics import IntrinsicError, Resolver, references, unknown_functions
from localcloud.deploy.resources import HANDLERS
from localcloud.deploy.resources.common import (
    ApiRoute,
    Created,
    DeployedFunction,
    DeployError,
    Deployment,
    ResourceCall,
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
            "localcloud/deploy/resources/ or list it in localcloud.deploy.deployer.NOT_EMULATED with a reason"
        )
        self.type, self.stack, self.logical_id = type_, stack, logical_id


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
                for function in unknown_functions(item):
                    raise IntrinsicError(f"unsupported intrinsic function {function} in {stack.name}/{name}")


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

        return topological(wanted, depends_on, f"the resources of {self.stack.name}")

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


def deploy(
    cdk_out: Path,
    *,
    client: Callable[[str], Any],
    account_id: str,
    region: str,
    on_function: Callable[[DeployedFunction], None] | None = None,
) -> DeployResult:
    """Deploys every stack of the cloud assembly, in dependency order, into a fresh moto.

    `client(service_name)` returns a ready boto3 client: the caller decides where it points (and its
    retries); one is asked for per service. Validates every template before creating anything; raises
    UnsupportedResourceType for a type that is neither handled nor in NOT_EMULATED.
    """
    started = time.perf_counter()
    cdk_out = Path(cdk_out).resolve()
    stacks, assets = read_assembly(cdk_out)
    validate(stacks)
    deployment = Deployment(
        make_client=client,
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
