"""docs/cost.md is what scripts/cost.py computes from the synthesized workflows, and meets its target."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def cost_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cost", ROOT / "scripts" / "cost.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def test_the_design_costs_at_most_half_of_the_all_standard_one(cloud_assembly: Path) -> None:
    _, ratio = cost_module().report(cloud_assembly)
    assert ratio <= 0.5


def test_the_cost_document_is_up_to_date(cloud_assembly: Path) -> None:
    text, _ = cost_module().report(cloud_assembly)
    assert (ROOT / "docs" / "cost.md").read_text() == text, (
        "run `python scripts/cost.py` and commit docs/cost.md"
    )


def test_happy_path_transitions_follow_next_default_and_map_bodies() -> None:
    asl = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Choice", "Choices": [{"Next": "X"}], "Default": "C"},
            "C": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "Next": "D",
            },
            "D": {"Type": "Succeed"},
            "X": {"Type": "Fail"},
        },
    }
    assert cost_module().happy_path_transitions(asl) == 4 + 2  # A, B, C, D and P once per line
