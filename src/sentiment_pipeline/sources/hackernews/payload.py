"""Event records from Hacker News items: the Firebase API's and Algolia's shapes.

Pure functions, no network. One HN item is one event:

- `id`: `hn_<item id>` (HN ids are one integer sequence over every item type);
- `source`: `hackernews`; `event_type`: the item's `type` (`story`, `comment`, `job`,
  `poll`, `pollopt`);
- `source_id`: the kind of the story the item belongs to (`story_kind`): `ask` (title
  starts with "Ask HN"), `show` ("Show HN"), `job`, `poll`, else `story`; a comment or
  poll option takes its story's kind (`story_kind` argument; `story` when unknown);
- `occurred_at`: the item's creation time (Firebase `time`, Algolia `created_at_i`,
  epoch seconds);
- `payload`: the item as the API sent it. An Algolia `items/{id}` tree is flattened into
  one record per node, each node's payload without its `children` (and a poll's
  `options`): those are records of their own, and a payload holding a whole thread
  would repeat every comment in its ancestors. The two shapes keep their own key names
  (`by`/`author`, `score`/`points`, `parent`/`parent_id`); the source's display columns
  try both (`spec.py`).

A `null` item (the Firebase API's answer for an id it lacks), or one without an integer
`id` or a creation time, becomes a `Rejected` with its reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentiment_pipeline.dto import Rejected

__all__ = [
    "KINDS",
    "SOURCE",
    "algolia_records",
    "event_id",
    "firebase_record",
    "story_kind",
]

SOURCE = "hackernews"
KINDS = ("story", "ask", "show", "job", "poll")
_OWN_KIND = frozenset({"story", "job", "poll"})  # types whose kind is their own
_NESTED = ("children", "options")  # Algolia's sub-items: records of their own


def event_id(item_id: int) -> str:
    """The event id of HN item `item_id`: `hn_<id>`."""
    return f"hn_{item_id}"


def story_kind(item: Mapping[str, Any], story: str | None = None) -> str:
    """The kind of the story `item` belongs to (module docstring): a story, job or poll
    its own; any other item (a comment, a poll option) `story`, the kind of its story,
    or `story` when that is unknown."""
    kind = item.get("type")
    if kind not in _OWN_KIND:
        return story if story in KINDS else "story"
    if kind != "story":
        return str(kind)
    title = item.get("title")
    title = title.lstrip() if isinstance(title, str) else ""
    if title.startswith("Ask HN"):
        return "ask"
    if title.startswith("Show HN"):
        return "show"
    return "story"


def _problem(item: Any, time_key: str) -> str | None:
    """Why `item` is no event, or None when it is one."""
    if item is None:
        return "item is null (the API has no such item)"
    if not isinstance(item, Mapping):
        return f"item is a {type(item).__name__}, not an object"
    ident = item.get("id")
    if not isinstance(ident, int) or isinstance(ident, bool) or ident < 0:
        return f"item has no integer id ({ident!r})"
    kind = item.get("type")
    if not isinstance(kind, str) or not kind:
        return f"item {ident} has no type"
    created = item.get(time_key)
    if not isinstance(created, int | float) or isinstance(created, bool):
        return f"item {ident} has no time ({time_key}: {created!r})"
    return None


def _record(item: Any, time_key: str, payload: Any, story: str | None) -> dict[str, Any] | Rejected:
    problem = _problem(item, time_key)
    if problem is not None:
        return Rejected({"source": SOURCE, "payload": item}, f"hackernews: {problem}")
    return {
        "id": event_id(item["id"]),
        "occurred_at": item[time_key],
        "source": SOURCE,
        "source_id": story_kind(item, story),
        "event_type": item["type"],
        "payload": payload,
    }


def firebase_record(item: Any, story: str | None = None) -> dict[str, Any] | Rejected:
    """One event from a Firebase API item (`item/{id}.json`); `story`: the kind of the
    item's story, for a comment or a poll option (see `story_kind`)."""
    return _record(item, "time", item, story)


def algolia_records(tree: Any, story: str | None = None) -> list[dict[str, Any] | Rejected]:
    """One event per node of an Algolia `items/{id}` tree, parents before their
    children; every node takes the root's kind (`story`: the kind of the root's story
    when the root is no story, job or poll). Iterative: a deep thread cannot exhaust the
    stack. A malformed node is a `Rejected`; its children are still read."""
    kind = story_kind(tree, story) if isinstance(tree, Mapping) else story
    records: list[dict[str, Any] | Rejected] = []
    pending: list[Any] = [tree]
    while pending:
        node = pending.pop()
        payload = node
        if isinstance(node, Mapping):
            payload = {key: value for key, value in node.items() if key not in _NESTED}
            for key in _NESTED:
                nested = node.get(key)
                if isinstance(nested, list):
                    pending.extend(reversed(nested))
        records.append(_record(node, "created_at_i", payload, kind))
    return records
