"""The one validation-error formatter: which field broke which rule, never the value that broke it."""

from __future__ import annotations

import re

from pydantic import ValidationError

# A location part that is a field name; anything else (a key taken from the input) is not repeated.
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
# pydantic messages that quote the input itself, with the same message minus the quote.
_QUOTING_MESSAGES = {
    "union_tag_invalid": "Input tag does not match any of the expected tags",
}


def field_errors(error: ValidationError, *, root: str = "body") -> list[dict[str, str]]:
    """Each violation as {"field": "lines.0.quantity", "error": "..."}, built without the input
    (`include_input=False`), documentation links or context values; keys that came from the input
    (an unexpected field, a dict key) are shown as `?`, and a violation of the whole object as `root`."""
    return [
        {
            "field": ".".join(_location_part(part) for part in e["loc"]) or root,
            "error": _QUOTING_MESSAGES.get(e["type"], e["msg"]),
        }
        for e in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def describe(error: ValidationError, *, root: str = "body") -> str:
    """The same violations on one line, e.g. for an exception message or a parked record's reason."""
    return "; ".join(f"{e['field']}: {e['error']}" for e in field_errors(error, root=root))


def _location_part(part: int | str) -> str:
    text = str(part)
    return text if isinstance(part, int) or _FIELD_NAME.match(text) else "?"
