"""Every event a flow put on the app's bus, read back from localcloud's trace and held to its contract."""

from __future__ import annotations

from typing import Any

from shared.contracts.names import APP_SOURCES
from shared.contracts.registry import contract_for
from tests.local.conftest import Local


def app_events(local: Local, since: int, **detail: str) -> list[dict[str, Any]]:
    """The app's events put on its bus since a trace record, whose detail has the given values."""
    bus = local.output("EventBusName")
    return [
        record["event"]
        for record in local.trace(since=since, kind="event")
        if record.get("bus") == bus
        and record["event"]["source"] in APP_SOURCES
        and all(record["event"]["detail"].get(key) == value for key, value in detail.items())
    ]


def assert_each_keeps_its_contract(events: list[dict[str, Any]]) -> list[str]:
    """Validates each event's detail with its model (pydantic's error names the broken fields);
    returns the DetailTypes in the order they were put."""
    for event in events:
        contract_for(event["source"], event["detail-type"]).model_validate(event["detail"])
    return [event["detail-type"] for event in events]
