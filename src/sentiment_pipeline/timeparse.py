"""Time in one place: parse the times users type, and the one text form of a moment.

Parsing: `--since 2024-01-02`, `--until 2024-01-02T03:04:05Z`, `--since 2h`,
`--fail-if-stale 30m`. Everything is UTC: a bare date is midnight UTC, a timestamp without
an offset is read as UTC (not local time, so cron jobs on differently configured hosts
agree), and a duration given where a moment is expected means "that long before now".

Text forms (every module renders moments through these, never `strftime("%Y…")`, which
drops the leading zeros of years before 1000 on glibc):

- `canonical_text`: `2024-01-02T03:04:05.123456Z`: export, the CSV sink, `stats`;
- `storage_text`: `2024-01-02 03:04:05.123456`: how SQLite stores UTC (SQLAlchemy's
  form); fixed width with a four-digit year, so text order is time order;
- `day_name`: `2024-01-02`: the UTC day of CSV file names and partitioned exports.

Accepted range: years 1 to 9999 (Python's `datetime`), the same on every backend.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sentiment_pipeline.errors import ConfigError

__all__ = [
    "canonical_text",
    "check_window",
    "day_name",
    "format_duration",
    "parse_duration",
    "parse_moment",
    "storage_text",
    "to_utc",
]

# What `--since` accepted as a typer datetime; strptime also takes unpadded fields there.
_DATETIME_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$", re.IGNORECASE)
_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}


def parse_duration(value: str, option: str = "duration") -> timedelta:
    """`90s`, `30m`, `2h`, `1d`, `1w`, `1.5h` (also `30 minutes`); must be positive."""
    match = _DURATION.match(value)
    seconds = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or seconds is None:
        raise ConfigError(
            f"{option} {value!r} is not a duration",
            "use a number and a unit: 90s, 30m, 2h, 1d or 1w",
        )
    amount = float(match.group(1)) * seconds
    if amount <= 0:
        raise ConfigError(f"{option} {value!r} must be longer than zero", "e.g. 30m or 2h")
    return timedelta(seconds=amount)


def parse_moment(value: str, option: str = "time", now: datetime | None = None) -> datetime:
    """An aware UTC datetime from a date, an ISO 8601 timestamp, or a duration ago (`2h`).

    Also takes `%Y-%m-%d`, `%Y-%m-%dT%H:%M:%S` and `%Y-%m-%d %H:%M:%S` with unpadded
    fields (`2024-1-2 3:04:05`). No offset means UTC. Raises `ConfigError` naming
    `option` for anything else.
    """
    text = value.strip()
    if _DURATION.match(text):
        return (now or datetime.now(UTC)) - parse_duration(text, option)
    moment: datetime | None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = _strptime(text)
    if moment is None:
        raise ConfigError(
            f"{option} {value!r} is not a date, timestamp or duration",
            "use 2024-01-31, 2024-01-31T12:00:00Z (UTC) or a duration ago such as 2h or 7d",
        ) from None
    try:
        return to_utc(moment)
    except OverflowError:
        raise ConfigError(
            f"{option} {value!r} is outside years 1-9999 in UTC", "give a time within that range"
        ) from None


def to_utc(moment: datetime | str) -> datetime:
    """An aware UTC datetime. A naive datetime (or naive ISO text, like SQLite's stored
    `2024-01-02 03:04:05.123456`) is taken as UTC. Raises ValueError for text that is not
    ISO 8601, OverflowError when the offset moves it outside years 1-9999."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _strptime(text: str) -> datetime | None:
    for pattern in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def canonical_text(moment: datetime) -> str:
    """`2024-01-02T03:04:05.123456Z`: UTC, four-digit year, always six fraction digits."""
    return to_utc(moment).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def storage_text(moment: datetime) -> str:
    """`2024-01-02 03:04:05.123456`: the UTC text SQLite stores (and compares as text)."""
    return to_utc(moment).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def day_name(moment: datetime) -> str:
    """`2024-01-02`: the moment's UTC date."""
    return to_utc(moment).date().isoformat()


def format_duration(delta: timedelta) -> str:
    """A short human age: `45 s`, `12 min`, `3.5 h`, `2.0 days`."""
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def check_window(since: datetime | None, until: datetime | None) -> None:
    """ConfigError when `since` is not before `until` (an empty window: nothing could
    match, which a report or export would otherwise show as "no data")."""
    if since is not None and until is not None and since >= until:
        from sentiment_pipeline.errors import ConfigError

        raise ConfigError(
            f"--since {since.isoformat()} is not before --until {until.isoformat()}",
            "give a --since earlier than --until",
        )
