"""`make docs`: regenerates every file derived from one source (contracts, cdk.out), or checks them.

Two kinds of generator, each a function returning {repo-relative path: full content}:
- SOURCE generators read only the code (the pydantic contracts); the stacks read what they write;
- ASSEMBLY generators read the synthesized app (`cdk.out`), so they run after a synth.
`python -m tools.docs` writes the source files, synthesizes, then writes the assembly files;
`--check` writes nothing and exits 1 naming every file that is out of step (the drift test does the same).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SourceGenerator = Callable[[], dict[str, str]]
AssemblyGenerator = Callable[[Path], dict[str, str]]

# Registered by path so this module stays cheap to import; each entry is `module:function`.
SOURCE_GENERATORS: tuple[str, ...] = ("tools.contracts:generate",)
ASSEMBLY_GENERATORS: tuple[str, ...] = (
    "tools.catalog:generate",
    "tools.architecture:generate",
    "tools.readme_blocks:generate",
)


def _load(spec: str) -> Callable[..., dict[str, str]]:
    import importlib

    module, _, name = spec.partition(":")
    generator: Callable[..., dict[str, str]] = getattr(importlib.import_module(module), name)
    return generator


def source_files() -> dict[str, str]:
    """Every file generated from the code alone."""
    files: dict[str, str] = {}
    for spec in SOURCE_GENERATORS:
        files.update(_load(spec)())
    return files


def assembly_files(cdk_out: Path) -> dict[str, str]:
    """Every file generated from the synthesized app."""
    files: dict[str, str] = {}
    for spec in ASSEMBLY_GENERATORS:
        files.update(_load(spec)(cdk_out))
    return files


def drifted(files: dict[str, str], root: Path = ROOT) -> list[str]:
    """The paths whose file on disk differs from what the generators make (or is missing)."""
    return sorted(path for path, text in files.items() if _read(root / path) != text)


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def write(files: dict[str, str], root: Path = ROOT) -> list[str]:
    """Writes what changed; returns the paths written."""
    changed = drifted(files, root)
    for path in changed:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[path])
    return changed


def synthesize(outdir: Path) -> Path:
    """The app synthesized in this process, with the context of cdk.json (as `cdk synth` would)."""
    sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]
    import aws_cdk as cdk

    from app import build_app

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    build_app(cdk.App(outdir=str(outdir), context=context)).synth()
    return outdir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of step")
    parser.add_argument("--cdk-out", type=Path, help="a synthesized app to read (default: synthesize one)")
    args = parser.parse_args(argv)
    sources = source_files()
    if args.check:
        stale = drifted(sources)
    else:
        for path in write(sources):
            print(f"wrote {path}")
    with tempfile.TemporaryDirectory(prefix="cdk.out.") as scratch:
        # After the source files are written: the synthesized app reads them.
        cdk_out = args.cdk_out or synthesize(Path(scratch))
        assembly = assembly_files(cdk_out)
    if args.check:
        stale += drifted(assembly)
        for path in stale:
            print(f"out of step: {path} (run `make docs`)", file=sys.stderr)
        return 1 if stale else 0
    for path in write(assembly):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
