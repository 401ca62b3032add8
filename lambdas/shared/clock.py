"""The app's timestamps: ISO-8601 UTC with milliseconds and a Z, as Step Functions writes them."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    """Now, in the format of `$$.State.EnteredTime` (e.g. 2026-11-22T10:00:00.123Z)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
