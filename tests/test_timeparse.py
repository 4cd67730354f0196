"""Dates, timestamps and durations as typed on the command line: always UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.timeparse import format_duration, parse_duration, parse_moment

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.5+02:00", datetime(2024, 1, 2, 1, 4, 5, 500000, tzinfo=UTC)),
        ("2024-01-02 03:04", datetime(2024, 1, 2, 3, 4, tzinfo=UTC)),  # naive means UTC
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        (" 30 minutes ", NOW - timedelta(minutes=30)),
    ],
)
def test_parse_moment(text: str, expected: datetime) -> None:
    moment = parse_moment(text, now=NOW)
    assert moment == expected
    assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("1.5h", 5400)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2", "h", "2 fortnights", "-1h", "0m"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_duration(text, "--fail-if-stale")
    assert caught.value.exit_code == 2
    assert "--fail-if-stale" in caught.value.reason


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "2024-01-02T25:00", "01/02/2024"])
def test_bad_moments_are_usage_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="--since"):
        parse_moment(text, "--since")


def test_format_duration() -> None:
    assert format_duration(timedelta(seconds=45)) == "45 s"
    assert format_duration(timedelta(minutes=12)) == "12 min"
    assert format_duration(timedelta(hours=3, minutes=30)) == "3.5 h"
    assert format_duration(timedelta(days=2)) == "2.0 days"
