"""Reddit's JSON envelopes: things, listings, ``more`` objects.

Kept in one place so every endpoint emits exactly Reddit's shapes, which is
what asyncpraw's objector dispatches on (``kind`` + ``data``).
"""

from __future__ import annotations

import copy
from typing import Any

from .models import JSON


def thing(kind: str, data: JSON) -> JSON:
    """Wrap ``data`` as ``{"kind": kind, "data": data}``."""
    return {"kind": kind, "data": data}


def listing(children: list[JSON], after: str | None = None, before: str | None = None) -> JSON:
    """Return a ``Listing`` with Reddit's keys (``dist`` counts the children)."""
    return thing(
        "Listing",
        {
            "after": after,
            "dist": len(children),
            "modhash": "",
            "geo_filter": "",
            "children": children,
            "before": before,
        },
    )


def comment_listing(children: list[JSON]) -> JSON:
    """Return a comment listing; Reddit sends ``dist: null`` for those."""
    result = listing(children)
    result["data"]["dist"] = None
    return result


def more(parent_name: str, children: list[str], depth: int) -> JSON:
    """A ``more`` stub; ``children=[]`` and ``count=0`` means "continue this thread"."""
    more_id = children[0] if children else "_"
    return thing(
        "more",
        {
            "count": len(children),
            "name": f"t1_{more_id}",
            "id": more_id,
            "parent_id": parent_name,
            "depth": depth,
            "children": list(children),
        },
    )


_CONTAINERS = (dict, list)


def _json_copy(value: Any) -> Any:
    """Copy the dicts and lists of a JSON value (strings and numbers are immutable);
    several times faster than ``copy.deepcopy``, which matters for 100-item pages."""
    if isinstance(value, dict):
        return {k: _json_copy(v) if isinstance(v, _CONTAINERS) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) if isinstance(v, _CONTAINERS) else v for v in value]
    return copy.deepcopy(value)  # anything else (never in generated data): play safe


def copied(data: JSON, **extra: Any) -> JSON:
    """Deep-copy ``data`` so a response can never mutate the stored record."""
    out: JSON = _json_copy(data)
    out.update(extra)
    return out
