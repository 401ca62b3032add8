"""Reads a cloud assembly (cdk.out): manifests, templates, file assets, and the stacks' dependency order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.deploy.resources.common import DeployError


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
    return [stacks[name] for name in topological(list(stacks), lambda n: stacks[n].dependencies, "stacks")]


def topological(nodes: list[str], depends_on: Callable[[str], Iterable[str]], what: str) -> list[str]:
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
