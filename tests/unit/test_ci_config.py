"""CI and pre-commit run what the Makefile says: `.ci/run` for the tests, `make lint`'s commands for lint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def make_recipe(target: str) -> list[str]:
    """The commands of a Makefile target, with the Makefile's simple variables expanded."""
    text = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Z_]+) :?= (.*)$", text, flags=re.MULTILINE))
    recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, flags=re.MULTILINE)
    assert recipe, f"no `{target}` target in the Makefile"

    def expand(line: str) -> str:
        return re.sub(r"\$\((\w+)\)", lambda m: expand(variables.get(m.group(1), m.group(0))), line)

    return [expand(line.strip()) for line in recipe.group(1).splitlines()]


def _workflow() -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    return workflow


def _steps() -> list[dict[str, Any]]:
    return [step for job in _workflow()["jobs"].values() for step in job["steps"]]


def _uses(action: str) -> list[dict[str, Any]]:
    return [step for step in _steps() if str(step.get("uses", "")).startswith(f"{action}@")]


def test_the_makefile_recipe_is_read_with_its_variables() -> None:
    # Given the Makefile's lint target
    # Then its commands are read, with $(VENV) expanded to the directory the Makefile names
    commands = make_recipe("lint")
    assert commands and all(c.startswith(".venv/bin/") for c in commands)


def test_ci_runs_the_one_test_command_on_pushes_and_pull_requests() -> None:
    # Given the workflow (PyYAML reads the key `on` as True)
    workflow = _workflow()
    triggers = workflow.get("on", workflow.get(True))

    # Then it runs on pushes and pull requests, and runs .ci/run and make lint
    assert {"push", "pull_request"} <= set(triggers)
    runs = [str(step.get("run", "")).strip() for step in _steps()]
    assert ".ci/run" in runs
    assert "make lint" in runs
    # And .ci/run is still `make test`
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_ci_caches_pip_for_both_requirements_files_and_npm() -> None:
    # Given the setup steps
    (python,) = _uses("actions/setup-python")
    (node,) = _uses("actions/setup-node")

    # Then pip is cached on both requirements files, and npm on the lock file
    assert python["with"]["cache"] == "pip"
    assert set(python["with"]["cache-dependency-path"].split()) == {
        "requirements.txt",
        "requirements-dev.txt",
    }
    assert node["with"]["cache"] == "npm"
    assert (ROOT / "package-lock.json").is_file()


def test_ci_keeps_cdk_out_and_the_validation_report_whatever_the_outcome() -> None:
    # Given the artifact steps
    uploads = _uses("actions/upload-artifact")

    # Then cdk.out and the validation report are kept, also when the tests failed
    paths = {str(step["with"]["path"]).strip() for step in uploads}
    assert {"cdk.out/", "cdk.out/validation-report.json"} <= paths
    assert all(step.get("if") == "always()" for step in uploads)


def test_pre_commit_runs_exactly_make_lint_with_the_pinned_tools() -> None:
    # Given the pre-commit hooks
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]

    # Then they are local (nothing downloaded), run once for the tree, and are make lint's commands
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    assert all(hook["language"] == "system" and hook["pass_filenames"] is False for hook in hooks)
    assert [hook["entry"] for hook in hooks] == make_recipe("lint")
