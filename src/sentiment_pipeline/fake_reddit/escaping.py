"""How the fake writes JSON: legacy HTML escaping, and surrogates as ``\\uXXXX``.

Reddit still escapes ``&``, ``<`` and ``>`` in JSON for old clients unless asked for
``raw_json=1``; asyncprawcore always sends it, and a client that forgets it stores
``&amp;`` in its database. The fake reproduces that so the mistake is testable.

Reddit's JSON also carries lone UTF-16 surrogates (half an emoji cut by a length
limit) as the escape ``\\ud83d``: valid JSON, but a Python string that cannot be
encoded. `json_text` writes them that way, and everything else as UTF-8.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TABLE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(body: Any) -> str:
    """Compact JSON of `body`, UTF-8 safe: surrogates become ``\\uXXXX`` escapes."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")  # ~10x faster than the regex scan when there is none
    except UnicodeEncodeError:
        # A raw surrogate can only sit inside a JSON string, where its escape means the same.
        return _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
    return text


def escape_strings(value: Any) -> Any:
    """Return ``value`` with every string (not key) HTML-escaped, recursively."""
    if isinstance(value, str):
        return value.translate(_TABLE)
    if isinstance(value, dict):
        return {k: escape_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_strings(v) for v in value]
    return value
