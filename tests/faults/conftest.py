"""The fault suite's own localcloud: a fresh one per session, so its faults touch no other test's state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.conftest import Local, running_localcloud

READY_WITHIN_SECONDS = 180  # a loaded 2-core machine deploys the app in ~20 s; be generous


@pytest.fixture(scope="session")
def fault_cloud(cloud_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """A localcloud of its own, with nothing run on it yet."""
    with running_localcloud(
        cloud_assembly, tmp_path_factory.mktemp("faultcloud"), ready_within=READY_WITHIN_SECONDS
    ) as cloud:
        yield cloud
