"""Generated files are in step with their one source: the contracts and the synthesized app."""

from __future__ import annotations

from pathlib import Path

from tools import docs


def test_every_generated_file_is_in_step(cloud_assembly: Path) -> None:
    # Given the generators and the app synthesized for this session
    files = {**docs.source_files(), **docs.assembly_files(cloud_assembly)}

    # When they are compared with the files in the repository
    stale = docs.drifted(files)

    # Then none differs: whoever changes a contract or a construct runs `make docs`
    assert stale == [], f"out of step, run `make docs`: {stale}"
