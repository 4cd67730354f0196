"""Pure functions of the refresh: the schedule, an item's state, its text hash, redaction.

No database and no network here, so the rules can be read (and tested) in one place.
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
from sentiment_pipeline.sources.reddit.removed import removal_state
from sentiment_pipeline.sources.reddit.text import TEXT_KEYS
from sentiment_pipeline.timeparse import parse_duration

__all__ = [
    "LATE_VISIT",
    "STATES",
    "Observation",
    "checkpoint",
    "edit_patch",
    "item_state",
    "parse_schedule",
    "redact_payload",
    "text_hash",
]

STATES = ("live", "edited", "deleted", "removed", "unavailable")
# A run this long after an item's last checkpoint still makes that visit; older items are
# left alone (a refresh after a long pause does not re-read months of data).
LATE_VISIT = timedelta(hours=24)
EDIT_KEYS = ("title", "selftext", "selftext_html", "body", "body_html", "edited")
# Blanked on redaction: text, embedded URLs and media. Every key starting with "author"
# goes too (author, author_fullname, author_flair_*, …).
REDACT_KEYS = frozenset(
    {
        "title",
        "selftext",
        "selftext_html",
        "body",
        "body_html",
        "url",
        "url_overridden_by_dest",
        "permalink",
        "domain",
        "thumbnail",
        "media",
        "secure_media",
        "media_embed",
        "secure_media_embed",
        "media_metadata",
        "gallery_data",
        "preview",
        "poll_data",
        "crosspost_parent_list",
        "link_title",
        "link_author",
        "link_permalink",
        "link_url",
    }
)
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


def text_hash(payload: Mapping[str, Any]) -> str:
    """md5 hex of Reddit's text keys (`sources.reddit.text.TEXT_KEYS`: title, selftext,
    body) joined by U+001F (missing ones empty); the same as the SQL the stores compute
    over stored payloads from the spec's `text_keys`. Text is cleaned as
    ingestion stores it (`dto.clean_text`: U+0000 and surrogates become U+FFFD), so
    an unchanged text with such characters hashes as its stored copy does."""
    joined = _SEP.join(_text(payload.get(key)) for key in TEXT_KEYS)
    return hashlib.md5(joined.encode("utf-8"), usedforsecurity=False).hexdigest()


def item_state(payload: Mapping[str, Any]) -> str:
    """`deleted` (the author deleted it), `removed` (moderators, admins, filters) or
    `live`: `sources.reddit.removed.removal_state`, where every placeholder Reddit uses
    is known. An author who deleted the account but not the item stays `live`."""
    return removal_state(payload) or "live"


def edit_patch(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an edited item's fresh payload that replace the stored ones; text
    cleaned as ingestion stores it (`dto.clean_text`), so every backend can store it."""
    return {
        key: clean_text(value) if isinstance(value, str) else value
        for key, value in payload.items()
        if key in EDIT_KEYS
    }


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = int(value)
    return number if -(2**31) <= number < 2**31 else None


def observe(
    ident: str, occurred_at: Any, stored_hash: str, fresh: Mapping[str, Any] | None
) -> Observation:
    """Compare a stored item with its fresh payload (None: absent from /api/info).

    The state comes first: a text that changed to a removal placeholder is `deleted` or
    `removed`, never `edited`."""
    if fresh is None:
        return Observation(ident, occurred_at, "unavailable")
    ratio = fresh.get("upvote_ratio")
    digest = text_hash(fresh)
    state = item_state(fresh)
    patch = None
    if state == "live" and digest != stored_hash:
        state, patch = "edited", edit_patch(fresh)
    return Observation(
        ident,
        occurred_at,
        state,
        score=_int(fresh.get("score")),
        num_comments=_int(fresh.get("num_comments")),
        upvote_ratio=float(ratio) if isinstance(ratio, int | float) and ratio == ratio else None,
        text_hash=digest,
        patch=patch,
    )


def redact_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without the text, URLs, media and author fields (blank strings or null);
    ids, times, subreddit and counts stay."""
    out = dict(payload)
    for key, value in payload.items():
        if key in REDACT_KEYS or key.startswith("author"):
            out[key] = "" if isinstance(value, str) else None
    return out
