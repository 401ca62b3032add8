"""Session-wide fixtures: the synthesized cloud assembly, made once per test session."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The app's cdk.out: the one `make test` just synthesized (CDK_OUT), else synthesized here once."""
    given = os.environ.get("CDK_OUT")
    if given:
        yield Path(given).resolve()
        return
    import aws_cdk as cdk

    from app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    build_app(cdk.App(outdir=str(outdir), context=context)).synth()
    yield outdir


@pytest.fixture(scope="session")
def templates(cloud_assembly: Path) -> dict[str, dict[str, Any]]:
    """Every stack's template, by stack name."""
    manifest = json.loads((cloud_assembly / "manifest.json").read_text())
    return {
        name: json.loads((cloud_assembly / artifact["properties"]["templateFile"]).read_text())
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
