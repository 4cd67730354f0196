"""The two APIs' views of an item.

Firebase (github.com/HackerNews/API, "Items"): fields absent rather than null; a
deleted item keeps only ``id``, ``type``, ``time``, ``deleted`` and its ``parent`` /
``kids``; a dead one keeps everything plus ``dead: true``.

Algolia ``items/{id}`` (hn.algolia.com/api, "Items"): one nested object per item with
``children``; deleted comments are kept with ``author``/``text`` null. Dead items are
not indexed by Algolia, so the fake leaves them (and their replies) out; a client
reaches them through the Firebase API.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .models import Item


def iso(epoch: int) -> str:
    """Algolia's ``created_at``: ``2024-01-02T03:04:05Z`` (Algolia adds ``.000Z``)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def firebase(item: Item) -> dict[str, Any]:
    """The item as ``/v0/item/{id}.json`` sends it."""
    if item.deleted:
        out: dict[str, Any] = {"deleted": True, "id": item.id, "time": item.time}
        out["type"] = item.type
        if item.parent is not None:
            out["parent"] = item.parent
        if item.kids:
            out["kids"] = list(item.kids)
        return out
    out = {"by": item.by, "id": item.id, "time": item.time, "type": item.type}
    optional: dict[str, Any] = {
        "title": item.title,
        "url": item.url,
        "text": item.text,
        "score": item.score,
        "parent": item.parent,
        "poll": item.poll,
        "kids": list(item.kids) or None,
        "parts": list(item.parts) or None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    if item.type in ("story", "poll"):
        out["descendants"] = item.descendants
    if item.dead:
        out["dead"] = True
    return out


def algolia_type(item: Item) -> str:
    """Algolia's ``type``: the Firebase type (Ask/Show HN are ``story``)."""
    return item.type


def algolia_tree(item: Item, items: Mapping[int, Item]) -> dict[str, Any]:
    """The ``/api/v1/items/{id}`` object for ``item`` and its live subtree."""
    root = items.get(item.story_id)
    out: dict[str, Any] = {
        "id": item.id,
        "created_at": iso(item.time),
        "created_at_i": item.time,
        "type": algolia_type(item),
        "author": None if item.deleted else item.by,
        "title": None if item.deleted else item.title,
        "url": None if item.deleted else item.url,
        "text": None if item.deleted else item.text,
        "points": None if item.deleted or item.type == "comment" else item.score,
        "parent_id": item.parent if item.parent is not None else item.poll,
        "story_id": root.id if root is not None else item.id,
        "options": [algolia_tree(items[p], items) for p in item.parts],
        "children": [
            algolia_tree(items[k], items) for k in item.kids if k in items and not items[k].dead
        ],
    }
    return out
