"""Pure functions of the refresh: the schedule, an item's state, its text hash, redaction.

No database and no network here. What each source's items mean (which flag or
placeholder is a deletion, the keys an edit or a redaction touches, the comment count)
comes from the source's spec (`SourceSpec.text_keys`, `SourceSpec.refresh`:
`sources.reddit.refresh`, `sources.hackernews.refresh`); `source` defaults to Reddit's.
`EDIT_KEYS` and `REDACT_KEYS` are Reddit's, named here for the callers that used them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sentiment_pipeline.dto import clean_text
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sources import RefreshRules, SourceSpec, source_spec
from sentiment_pipeline.sources.reddit.refresh import EDIT_KEYS, REDACT_KEYS
from sentiment_pipeline.timeparse import parse_duration

__all__ = [
    "EDIT_KEYS",
    "LATE_VISIT",
    "REDACT_KEYS",
    "STATES",
    "Observation",
    "checkpoint",
    "count_of",
    "edit_patch",
    "item_state",
    "parse_schedule",
    "redact_payload",
    "rules_of",
    "text_hash",
]

STATES = ("live", "edited", "deleted", "removed", "unavailable")
# A run this long after an item's last checkpoint still makes that visit; older items are
# left alone (a refresh after a long pause does not re-read months of data).
LATE_VISIT = timedelta(hours=24)
_GENERIC = RefreshRules()
_SEP = "\x1f"


@dataclass(frozen=True)
class Observation:
    """What one refresh saw of one stored item: `state` (one of `STATES`), the counts
    Reddit gave (None where absent), `text_hash` (None when unavailable) and, for an
    edit, `patch` (the payload fields to replace)."""

    id: str
    occurred_at: Any  # the driver's value, written back unchanged
    state: str
    score: int | None = None
    num_comments: int | None = None
    upvote_ratio: float | None = None
    text_hash: str | None = None
    patch: dict[str, Any] | None = None


def parse_schedule(text: str, max_age: timedelta, option: str = "--schedule") -> list[timedelta]:
    """`"1h,24h,72h"` -> the ages (ascending, unique) at or below `max_age`.

    Raises `ConfigError` for a bad duration or when no age is left."""
    ages = sorted(
        {parse_duration(part.strip(), option) for part in text.split(",") if part.strip()}
    )
    kept = [age for age in ages if age <= max_age]
    if not kept:
        raise ConfigError(
            f"{option} {text!r} has no age within --max-age", "e.g. --schedule 1h,24h,72h"
        )
    return kept


def checkpoint(occurred_at: datetime, now: datetime, ages: Sequence[timedelta]) -> datetime | None:
    """The moment of the latest schedule age the item has reached (None: none yet, or
    reached more than `LATE_VISIT` after its last age)."""
    age = now - occurred_at
    reached = [a for a in ages if a <= age]
    if not reached or age > ages[-1] + LATE_VISIT:
        return None
    return occurred_at + reached[-1]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return clean_text(value) if isinstance(value, str) else json.dumps(value)


def _spec(source: SourceSpec | None) -> SourceSpec:
    return source if source is not None else source_spec("reddit")


def rules_of(source: SourceSpec | None = None) -> RefreshRules:
    """The refresh rules of `source` (default Reddit's); the generic ones (no state,
    no edit keys; text, URLs and authors blanked) for a source that declares none."""
    return _spec(source).refresh or _GENERIC


def text_hash(payload: Mapping[str, Any], source: SourceSpec | None = None) -> str:
    """md5 hex of the source's text keys (its spec's `text_keys`; Reddit: title,
    selftext, body) joined by U+001F (missing ones empty); the same as the SQL the
    stores compute over stored payloads. Text is cleaned as
    ingestion stores it (`dto.clean_text`: U+0000 and surrogates become U+FFFD), so
    an unchanged text with such characters hashes as its stored copy does."""
    joined = _SEP.join(_text(payload.get(key)) for key in _spec(source).text_keys)
    return hashlib.md5(joined.encode("utf-8"), usedforsecurity=False).hexdigest()


def item_state(payload: Mapping[str, Any], source: SourceSpec | None = None) -> str:
    """`deleted` (the author deleted it), `removed` (moderators, admins, filters) or
    `live`: the source's `RefreshRules.state_of` (Reddit's:
    `sources.reddit.removed.removal_state`, where every placeholder Reddit uses is
    known; an author who deleted the account but not the item stays `live`)."""
    return rules_of(source).state_of(payload) or "live"


def edit_patch(payload: Mapping[str, Any], source: SourceSpec | None = None) -> dict[str, Any]:
    """The fields of an edited item's fresh payload that replace the stored ones (the
    source's `edit_keys`; with `edit_absent_null` one the payload leaves out is null);
    text cleaned as ingestion stores it (`dto.clean_text`), so every backend can store it."""
    rules = rules_of(source)
    patch = {
        key: clean_text(value) if isinstance(value, str) else value
        for key, value in payload.items()
        if key in rules.edit_keys
    }
    if rules.edit_absent_null:
        patch.update({key: None for key in rules.edit_keys if key not in patch})
    return patch


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = int(value)
    return number if -(2**31) <= number < 2**31 else None


def count_of(payload: Mapping[str, Any], rules: RefreshRules) -> int | None:
    """The comment count: the first of the source's `count_keys` holding a number."""
    for key in rules.count_keys:
        number = _int(payload.get(key))
        if number is not None:
            return number
    return None


def observe(
    ident: str,
    occurred_at: Any,
    stored_hash: str,
    fresh: Mapping[str, Any] | None,
    source: SourceSpec | None = None,
) -> Observation:
    """Compare a stored item with its fresh payload (None: the API does not have it:
    absent from /api/info, HN's `null`), by the rules of `source` (default Reddit's).

    The state comes first: a text that changed to a removal placeholder is `deleted` or
    `removed`, never `edited`."""
    if fresh is None:
        return Observation(ident, occurred_at, "unavailable")
    rules = rules_of(source)
    ratio = fresh.get(rules.ratio_key) if rules.ratio_key else None
    digest = text_hash(fresh, source)
    state = item_state(fresh, source)
    patch = None
    if state == "live" and digest != stored_hash:
        state, patch = "edited", edit_patch(fresh, source)
    return Observation(
        ident,
        occurred_at,
        state,
        score=_int(fresh.get("score")),
        num_comments=count_of(fresh, rules),
        upvote_ratio=float(ratio) if isinstance(ratio, int | float) and ratio == ratio else None,
        text_hash=digest,
        patch=patch,
    )


def redact_payload(payload: Mapping[str, Any], source: SourceSpec | None = None) -> dict[str, Any]:
    """A copy without the text, URLs, media and author fields (blank strings or null):
    the source's `redact_keys` and `redact_prefixes`; ids, times, groups and counts stay."""
    return rules_of(source).redact(payload)
