"""The rules an event must pass, in one table: every way of validating reads them here.

`RawEventDTO`'s validators raise these messages (dead-letter reasons are a contract:
`<field>: <message>`, joined by "; "); `validate.plain_event` and the model-free fast
path ask the same table, without messages, whether a record plainly passes
(`plain_names`, `plain_moment`) and defer to the model when it might not.

- `id`: text of 1-512 characters, not blank, no control characters (`TEXT_RULES`);
- `event_type`: the same, 1-64 characters;
- `source`, `source_id`: a path-safe name (`path_safe`): they become folder names;
- `occurred_at`: a moment with an offset, or epoch seconds; years 1-9999 UTC; at most
  `FUTURE_TOLERANCE` ahead (`moment`);
- `payload`: a JSON object, at most `MAX_DEPTH` levels (`depth_problem`) and
  `max_payload_bytes` of UTF-8 (`size_problem`);
- every text: U+0000 and surrogates replaced by U+FFFD (`clean_text`); the record
  counts as sanitized.

A Reddit `source_id` (a subreddit) is stored lower-cased (`stored_source_id`), and the
name rule applies to the stored form.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sentiment_pipeline.timeparse import to_utc

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "EVENT_TYPE",
    "FUTURE_TOLERANCE",
    "ID",
    "MAX_DEPTH",
    "REPLACEMENT",
    "TEXT_RULES",
    "TextRule",
    "clean_text",
    "field_problem",
    "moment",
    "name_problem",
    "path_safe",
    "plain_moment",
    "plain_names",
    "size_problem",
    "stored_source_id",
]

DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576
MAX_DEPTH = 64  # nested objects/arrays in a payload, the payload object itself included
FUTURE_TOLERANCE = timedelta(days=1)
REPLACEMENT = "\ufffd"
_TOLERANCE_SECONDS = FUTURE_TOLERANCE.total_seconds()
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_OR_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_SAFE_NAMES: set[str] = set()  # names `path_safe` passed (a dump has few sources)
# Epoch seconds from here on are read by `datetime.fromtimestamp` without fail; earlier
# ones go the full way (`moment`), which says why it refuses them.
FIRST_PLAIN_EPOCH = -62135596800 + 1  # 0001-01-01T00:00:01Z


class TextRule(NamedTuple):
    """A free-text field: 1 to `max_length` characters, not blank, no control characters
    (each CSV row stays one line)."""

    max_length: int

    def problem(self, value: str) -> str | None:
        """Why `value` breaks the rule (the first reason), or None."""
        if not value:
            return "String should have at least 1 character"
        if len(value) > self.max_length:
            return f"String should have at most {self.max_length} characters"
        if value.isspace():
            return "must not be blank"
        if _CONTROL.search(value):
            return "must not contain control characters (tab, newline, …)"
        return None


ID = TextRule(512)
EVENT_TYPE = TextRule(64)
TEXT_RULES = {"id": ID, "event_type": EVENT_TYPE}
_ID_MAX, _EVENT_TYPE_MAX = ID.max_length, EVENT_TYPE.max_length  # (read per record)


def path_safe(name: str) -> bool:
    """The rule for `source` and `source_id` (they become folder names), remembered for
    up to 10,000 names."""
    if name in _SAFE_NAMES:
        return True
    if _PATH_PART.fullmatch(name) is None or ".." in name:
        return False
    if len(_SAFE_NAMES) < 10_000:
        _SAFE_NAMES.add(name)
    return True


def name_problem(value: str) -> str | None:
    """Why `value` is no `source` / `source_id` (`path_safe`), or None."""
    if path_safe(value):
        return None
    return (
        f"{value!r} must be 1-128 letters, digits, '_', '-' or '.', "
        "not starting with '.' or '-' (it becomes a folder name)"
    )


def field_problem(field: str, value: str) -> str | None:
    """Why the text `value` of `field` (id, event_type, source, source_id) breaks its rule."""
    rule = TEXT_RULES.get(field)
    return name_problem(value) if rule is None else rule.problem(value)


def plain_names(ident: str, kind: str, source: str, source_id: str) -> bool:
    """True when the four text fields (strings; `source_id` in its stored form) pass
    their rules and hold no unstorable character: `field_problem` gives None for each
    and `clean_text` changes none. (A path-safe name holds neither control nor
    unstorable characters.)"""
    return (
        0 < len(ident) <= _ID_MAX
        and 0 < len(kind) <= _EVENT_TYPE_MAX
        and not _CONTROL_OR_UNSTORABLE.search(ident + kind)
        and not ident.isspace()
        and not kind.isspace()
        and path_safe(source)
        and path_safe(source_id)
    )


def stored_source_id(source: str, source_id: str) -> str:
    """`source_id` as validation stores it for `source`: a Reddit subreddit name
    lower-cased (Reddit treats `Python` and `python` as one subreddit: one spelling),
    any other source's id as given. Filters that compare with stored ids use it too."""
    return source_id.lower() if source == "reddit" else source_id


def clean_text(text: str) -> str:
    """`text` with U+0000 and every surrogate code point replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text


def has_unstorable(text: str) -> bool:
    """True when `clean_text` would change `text`."""
    return _UNSTORABLE.search(text) is not None


def _parsed_moment(value: Any) -> datetime:
    """`value` (epoch seconds, ISO 8601 text or a datetime) as a datetime; ValueError."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise ValueError(f"epoch seconds {value!r} out of range") from error
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError as error:
            raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from error
    if isinstance(value, datetime):
        return value
    raise ValueError(f"{type(value).__name__} is not a timestamp")


def moment(value: Any) -> datetime:
    """`occurred_at` as an aware UTC datetime; ValueError with the reason when it breaks
    the time rule (no offset, outside years 1-9999 in UTC, too far in the future)."""
    parsed = _parsed_moment(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("timestamp has no timezone (give an offset or Z, or epoch seconds)")
    try:
        parsed = to_utc(parsed)
    except OverflowError:
        raise ValueError(f"{value!r} is outside years 1-9999 in UTC") from None
    if parsed > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise ValueError(f"timestamp {parsed.isoformat()} is more than a day in the future")
    return parsed


def plain_moment(value: Any) -> datetime | float | None:
    """`moment(value)` for the common forms, quickly: an aware UTC datetime for ISO text
    with an offset, float epoch seconds (as `datetime.fromtimestamp` reads them, the
    range checked) for a number; None whenever `moment` might refuse or read it
    otherwise (then it decides, and explains)."""
    kind = type(value)
    if kind is int or kind is float:
        if not FIRST_PLAIN_EPOCH <= value <= time.time() + _TOLERANCE_SECONDS:  # NaN fails
            return None
        return float(value)  # exact: an int this small is a float exactly
    if kind is not str:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.utcoffset() is None:
            return None
        if parsed.tzinfo is not UTC:
            parsed = parsed.astimezone(UTC)
        if parsed.timestamp() > time.time() + _TOLERANCE_SECONDS:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return parsed


def size_problem(size: int, max_payload_bytes: int) -> str | None:
    """Why a payload of `size` bytes of UTF-8 is refused, or None."""
    if size > max_payload_bytes:
        return f"payload: {size} bytes exceeds the {max_payload_bytes}-byte limit"
    return None


def depth_problem() -> str:
    """Why a payload nested past `MAX_DEPTH` is refused."""
    return f"nested deeper than {MAX_DEPTH} levels"
