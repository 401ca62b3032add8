"""`make diff` and `make destroy` run the CDK commands README promises (dry run: nothing is deployed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _last_command(*args: str) -> str:
    # -n prints what would run; -o install: the install prerequisite is taken as done (no pip, no npm)
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", "install", *args],
        cwd=ROOT,
        # Run under `make test`, the outer make's flags would reach this one: it is a make of its own.
        env={k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip().splitlines()[-1]


def test_destroy_lets_cdk_ask_unless_forced() -> None:
    # When make destroy is asked for, without and with FORCE=1
    # Then CDK's own confirmation stays on, and only FORCE=1 turns it off
    assert _last_command("destroy").split() == ["npx", "--no-install", "cdk", "destroy", "--all"]
    assert _last_command("destroy", "FORCE=1").split()[-3:] == ["destroy", "--all", "--force"]
    assert "--force" not in _last_command("destroy", "FORCE=yes")


def test_diff_compares_every_stack() -> None:
    assert _last_command("diff").split()[-3:] == ["cdk", "diff", "--all"]
