"""What `make destroy` keeps and deletes, from the templates' DeletionPolicy (README's retention block)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from localcloud.deploy.assembly import StackArtifact

# The stateful resources listed one by one; everything else is counted.
LISTED = {"AWS::DynamoDB::Table": "table", "AWS::S3::Bucket": "bucket"}
# What a deleted resource of these types takes with it, for the counted line.
COUNTED = {
    "AWS::SQS::Queue": "SQS queues (DLQs and failure destinations included: their messages go too)",
    "AWS::Logs::LogGroup": "log groups",
    "AWS::KMS::Key": "KMS keys (KMS deletes a key only after its waiting period, 30 days by default)",
    "AWS::Events::Archive": "event archive (the events kept for replay)",
    "AWS::StepFunctions::StateMachine": "state machines (their execution history)",
}
_KEPT = ("Retain", "RetainExceptOnCreate", "Snapshot")


def kept(resource: dict[str, Any]) -> bool:
    """Whether CloudFormation leaves the resource in the account when its stack is deleted."""
    return resource.get("DeletionPolicy", "Delete") in _KEPT


def rows(stacks: list[StackArtifact]) -> list[tuple[str, str, str, bool]]:
    """(stack, logical id, kind, kept) of every table and bucket, in deployment order then logical id."""
    return [
        (stack.name, logical_id, LISTED[resource["Type"]], kept(resource))
        for stack in stacks
        for logical_id, resource in sorted(stack.template.get("Resources", {}).items())
        if resource.get("Type") in LISTED
    ]


def block(stacks: list[StackArtifact]) -> str:
    """The README block: a table of the tables and buckets, then one line counting what else goes."""
    lines = ["| stack | resource (logical id) | on `make destroy` |", "|---|---|---|"]
    for stack, logical_id, kind, keep in rows(stacks):
        fate = "**kept** (`DeletionPolicy: Retain`)" if keep else "deleted, with its data"
        lines.append(f"| {stack} | {kind} `{logical_id}` | {fate} |")
    deleted: Counter[str] = Counter()
    kept_other: Counter[str] = Counter()
    for artifact in stacks:
        for resource in artifact.template.get("Resources", {}).values():
            if resource.get("Type") in COUNTED:
                (kept_other if kept(resource) else deleted)[resource["Type"]] += 1
    counted = [f"{deleted[t]} {COUNTED[t]}" for t in COUNTED if deleted[t]]
    lines.append("")
    lines.append("Deleted with their stacks: " + "; ".join(counted) + ".")
    if kept_other:
        lines.append(
            "Also kept: " + "; ".join(f"{n} {COUNTED[t]}" for t, n in sorted(kept_other.items())) + "."
        )
    return "\n".join(lines) + "\n"
