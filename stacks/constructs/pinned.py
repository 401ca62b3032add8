"""Stateful resources moved between constructs keep their logical ids, so a deploy does not replace them."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Stack
from constructs import Construct


def pin(construct: Construct, logical_id: str) -> None:
    """Keeps the resource's logical id where it moved from (a table, queue, bucket, topic, key, log group)."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnResource)
    child.override_logical_id(logical_id)


def pinned_id(construct: Construct) -> str:
    """The logical id of a resource, its override included (as cdk-nag names it in findings)."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnResource)
    return str(Stack.of(construct).resolve(child.logical_id))
