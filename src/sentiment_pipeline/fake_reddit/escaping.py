"""Legacy HTML escaping of JSON strings, applied unless ``raw_json=1``.

Reddit still escapes ``&``, ``<`` and ``>`` in JSON for old clients; asyncprawcore
always sends ``raw_json=1`` to opt out, and a client that forgets it stores
``&amp;`` in its database. The fake reproduces that so the mistake is testable.
"""

from __future__ import annotations

from typing import Any

_TABLE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_strings(value: Any) -> Any:
    """Return ``value`` with every string (not key) HTML-escaped, recursively."""
    if isinstance(value, str):
        return value.translate(_TABLE)
    if isinstance(value, dict):
        return {k: escape_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_strings(v) for v in value]
    return value
