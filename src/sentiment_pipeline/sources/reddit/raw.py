"""Keep the JSON Reddit sent for each submission and comment, before asyncpraw parses it.

asyncpraw turns every ``{"kind": "t3" | "t1", "data": {...}}`` thing of a response into
a model through its objector, and the model's attributes are no longer what Reddit sent
(``poll_data`` becomes a ``PollData`` object, ``author`` a ``Redditor``, ``replies`` a
forest). `capture_raw_json` swaps in an objector that first takes a plain deep copy of
the thing's ``data`` (less ``replies``, which are things of their own) and attaches it
to the model as `RAW_ATTRIBUTE`. Every path that builds submissions and comments goes
through the objector: listings, the comment tree of ``GET /comments/{id}``, the
"continue this thread" fetch and ``/api/morechildren``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncpraw

__all__ = ["RAW_ATTRIBUTE", "capture_raw_json", "plain_copy", "raw_json"]

RAW_ATTRIBUTE = "_sentpipe_raw"
_KINDS = ("submission", "comment")  # asyncpraw config names of t3 and t1


def plain_copy(data: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a decoded JSON object, less ``replies``, sharing nothing with it.

    A JSON round trip: the C encoder copies as fast as anything, and the result holds
    only dict/list/str/int/float/bool/None whatever asyncpraw later does to ``data``.
    Lone surrogates and NaN survive the trip unchanged, as Reddit sent them.
    """
    trimmed = {key: value for key, value in data.items() if key != "replies"}
    copied: dict[str, Any] = json.loads(json.dumps(trimmed))
    return copied


def raw_json(item: Any) -> dict[str, Any] | None:
    """The JSON object Reddit sent for `item`, or None if it was not captured."""
    raw = getattr(item, "__dict__", {}).get(RAW_ATTRIBUTE)
    return raw if isinstance(raw, dict) else None


def capture_raw_json(reddit: asyncpraw.Reddit) -> None:
    """Make `reddit` attach the sent JSON to every Submission and Comment it builds."""
    from asyncpraw.objector import Objector

    kinds = frozenset(reddit.config.kinds[name] for name in _KINDS)

    class RawObjector(Objector):
        def objectify(self, *, data: Any) -> Any:
            if (
                isinstance(data, dict)
                and data.get("kind") in kinds
                and isinstance(data.get("data"), dict)
            ):
                try:
                    raw: dict[str, Any] | None = plain_copy(data["data"])
                except (RecursionError, ValueError):  # absurd nesting: payload.py falls back
                    raw = None
                built = super().objectify(data=data)
                if raw is not None and hasattr(built, "__dict__"):
                    vars(built)[RAW_ATTRIBUTE] = raw
                return built
            return super().objectify(data=data)

    reddit._objector = RawObjector(reddit, reddit._objector.parsers)
