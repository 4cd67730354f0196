"""Turn asyncpraw submissions and comments into event records.

Pure functions, no network. An item's payload is the JSON object Reddit sent for it,
less ``replies``, as captured by `raw.capture_raw_json` before asyncpraw parsed it
(``poll_data``, ``media_metadata``, ``crosspost_parent_list``, awards and flair stay the
objects Reddit sent; ``author`` stays the name string, ``"[deleted]"`` included).

An item built without that capture (a client not made by `make_reddit`) falls back to
its instance attributes, with model objects turned into names. Ugly data never raises:
an item we cannot convert becomes a `Rejected` (dead letter) instead of crashing the run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.sources.reddit.raw import raw_json

__all__ = [
    "SOURCE",
    "comment_record",
    "jsonable",
    "reddit_payload",
    "submission_record",
]

SOURCE = "reddit"
# asyncpraw's own attributes, not Reddit fields (the comment forest is fetched separately).
_INTERNAL = frozenset({"comment_limit", "comment_sort", "comments", "replies"})
_MAX_NESTING = 20
_PLAIN = frozenset({str, int, bool, type(None)})


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-serialisable copy: model objects become their name, the rest str()."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= _MAX_NESTING:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    # Redditor / Subreddit / other asyncpraw models: str() is the name or fullname.
    return str(value)


def reddit_payload(item: Any) -> dict[str, Any]:
    """The JSON object Reddit sent for `item` (less ``replies``).

    Without a captured copy: the item's attributes, without asyncpraw internals.
    """
    raw = raw_json(item)
    if raw is not None:
        return raw
    fields = vars(item) if hasattr(item, "__dict__") else dict(item)
    payload = {
        key: value if type(value) in _PLAIN else jsonable(value)  # fast path: most fields
        for key, value in fields.items()
        if key[:1] != "_" and key not in _INTERNAL
    }
    if "author" in fields and fields["author"] is None:
        payload["author"] = "[deleted]"  # asyncpraw maps a deleted author to None
    return payload


def _created(payload: Mapping[str, Any]) -> Any:
    created = payload.get("created_utc")
    return created if created is not None else payload.get("created")


def _reject(item: Any, source_id: str, kind: str, error: Exception) -> Rejected:
    ident = getattr(item, "id", None)
    record = {"source": SOURCE, "source_id": source_id, "event_type": kind, "id": str(ident)}
    return Rejected(record, f"cannot convert reddit {kind} {ident!r}: {error}")


def submission_record(item: Any, source_id: str) -> dict[str, Any] | Rejected:
    """A submission as an event `t3_<id>` at `created_utc`."""
    try:
        payload = reddit_payload(item)
        return {
            "id": f"t3_{payload['id']}",
            "occurred_at": _created(payload),
            "source": SOURCE,
            "source_id": source_id,
            "event_type": "submission",
            "payload": payload,
        }
    except Exception as error:  # one bad item must not end the run
        return _reject(item, source_id, "submission", error)


def comment_record(
    item: Any, source_id: str, depth: int | None = None
) -> dict[str, Any] | Rejected:
    """A comment as an event `t1_<id>`; `parent_id`, `link_id` and `depth` in the payload.

    Reddit sends all three; only an uncaptured item (see `reddit_payload`) gets them
    filled in, `depth` from the argument.
    """
    try:
        payload = reddit_payload(item)
        if raw_json(item) is None:
            if not isinstance(payload.get("depth"), int) and depth is not None:
                payload["depth"] = depth
            for key in ("parent_id", "link_id"):
                payload.setdefault(key, None)
        return {
            "id": f"t1_{payload['id']}",
            "occurred_at": _created(payload),
            "source": SOURCE,
            "source_id": source_id,
            "event_type": "comment",
            "payload": payload,
        }
    except Exception as error:  # one bad item must not end the run
        return _reject(item, source_id, "comment", error)
