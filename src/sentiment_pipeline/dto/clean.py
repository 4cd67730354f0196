"""Cleaning: text no backend can store (U+0000, surrogates) replaced by U+FFFD in every
string of a record, payload keys included (`rules.clean_text`); the one change validation
makes instead of refusing (docs/data-quality.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentiment_pipeline.dto.model import FIELDS, dump_json, dumps_exact
from sentiment_pipeline.dto.rules import MAX_DEPTH, clean_text, depth_problem, has_unstorable

__all__ = ["Unfit", "clean", "cleaned"]


class Unfit(ValueError):
    """A payload too deep, or whose keys collide once cleaned."""


def clean(value: Any, depth: int = 1) -> Any:
    """A JSON-like value with `clean_text` applied to every string, keys included; the
    very same object when nothing changed. Raises Unfit past `MAX_DEPTH` containers."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        if depth > MAX_DEPTH:
            raise Unfit(depth_problem())
        out = {}
        changed = False
        for key, item in value.items():
            new_key = clean_text(key) if isinstance(key, str) else key
            new_item = clean(item, depth + 1)
            changed = changed or new_key is not key or new_item is not item
            out[new_key] = new_item
        if len(out) != len(value):
            raise Unfit("two keys are the same once unstorable characters are replaced")
        return out if changed else value
    if isinstance(value, list | tuple):
        if depth > MAX_DEPTH:
            raise Unfit(depth_problem())
        items = [clean(item, depth + 1) for item in value]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return items if changed else value
    return value


def _dump_cleaned(payload: dict[str, Any], before: str | None) -> str:
    """`dump_json(payload)` of a cleaned payload whose text before cleaning was `before`
    (`dump_json`'s or, for a parsed line, orjson's exact text; None: not known). orjson
    (~10x faster) writes exactly `dump_json`'s text unless a float under 1e-4 (which
    `dump_json` writes with an exponent, `1e-05`, and which never reaches orjson's text:
    `sources.jsonlines.loads_exact`) or an integer past 64 bits (orjson refuses it) is in
    it; cleaning replaces characters in strings only, so `before` without "e-" rules the
    floats out."""
    text = dumps_exact(payload) if before is not None and "e-" not in before else None
    return text.decode() if text is not None else dump_json(payload)


def _head_unstorable(record: Mapping[str, Any]) -> bool:
    return any(
        isinstance(record[name], str) and has_unstorable(record[name])
        for name in ("id", "source", "source_id", "event_type", "occurred_at")
    )


def cleaned(
    record: Mapping[str, Any], payload_json: str
) -> tuple[Mapping[str, Any], str, bytes | None, bool]:
    """`(fields, payload text, its UTF-8 or None, sanitized)`: the record with its
    unstorable text replaced (`rules.clean_text`), or as it is when there is none.
    Unfit when the payload nests too deep or its keys collide once cleaned."""
    encoded: bytes | None
    try:
        encoded = payload_json.encode("utf-8")
    except UnicodeEncodeError:
        encoded = None
    sanitized = encoded is None or "\\u0000" in payload_json or _head_unstorable(record)
    deep = payload_json.count("{") + payload_json.count("[") > MAX_DEPTH  # an upper bound
    if not (sanitized or deep):
        return record, payload_json, encoded, False
    fields = {k: clean(record[k]) for k in FIELDS}
    if all(fields[k] is record[k] for k in FIELDS):
        return record, payload_json, encoded, False
    payload_json = _dump_cleaned(fields["payload"], payload_json)
    return fields, payload_json, payload_json.encode("utf-8"), True
