"""The names module: the one place each source and DetailType is written, importable without pydantic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.contracts import names
from shared.contracts.registry import CONTRACTS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("module", "path"),
    [
        ("shared.contracts.names", "lambdas"),  # as a handler imports it
        ("lambdas.shared.contracts.names", "."),  # as the stacks import it
        ("metrics.service", "lambdas"),  # the consumer that sees every event
    ],
)
def test_importing_the_names_does_not_import_pydantic(module: str, path: str) -> None:
    # Given a fresh interpreter with only the code on its path
    code = f"import sys, {module}; print('pydantic' in sys.modules)"
    # When it imports the module
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT / path, capture_output=True, text=True, check=True
    )
    # Then pydantic was not imported
    assert result.stdout.strip() == "False"


def test_every_named_event_has_exactly_one_contract_and_the_other_way_round() -> None:
    assert list(CONTRACTS) == list(names.APP_EVENTS)
    assert len(set(names.APP_EVENTS)) == len(names.APP_EVENTS)


def test_each_model_takes_its_names_from_the_names_module() -> None:
    for (source, detail_type), model in CONTRACTS.items():
        assert source == model.SOURCE and source in names.APP_SOURCES
        assert detail_type == model.DETAIL_TYPE and detail_type in names.EVENTS[source]


def test_every_function_producer_names_an_app_event_and_a_lambda_folder() -> None:
    for (source, detail_type), folder in names.FUNCTION_PRODUCERS.items():
        assert (source, detail_type) in names.APP_EVENTS
        assert (ROOT / "lambdas" / folder / "handler.py").is_file(), folder


def test_a_pattern_is_what_eventbridge_writes() -> None:
    assert names.ORDER_OUTCOMES.as_dict() == {
        "source": ["myapp.orders"],
        "detail-type": ["OrderCompleted", "OrderFailed", "OrderRejected", "OrderNeedsAttention"],
    }


def test_a_pattern_on_a_detail_type_its_source_does_not_have_is_refused() -> None:
    with pytest.raises(ValueError, match="OnlineTrial has no DetailType"):
        names.Pattern(names.TRIALS, (names.ORDER_PLACED,))
