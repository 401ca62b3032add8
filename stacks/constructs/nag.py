"""cdk-nag acknowledgements that name exactly the findings they accept."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Stack
from constructs import Construct, IConstruct


def logical_id(construct: Construct) -> str:
    """The CloudFormation logical id of a construct's resource, as cdk-nag names it in findings."""
    stack = Stack.of(construct)
    resource = construct.node.default_child or construct
    return str(stack.resolve(stack.get_logical_id(resource)))  # type: ignore[arg-type]


def acknowledge_wildcards(scope: IConstruct, *, reason: str, resources: list[str]) -> None:
    """Acknowledges exactly these wildcard resources (AwsSolutions-IAM5) under scope, with one reason."""
    for resource in resources:
        cdk.Validations.of(scope).acknowledge(
            cdk.Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{resource}]", reason=reason)
        )
