"""`--subreddit`/`--source-id` filters match names the way validation stores them.

Validation lower-cases Reddit subreddit names (`dto.stored_source_id`), so `--subreddit
Python` (as Reddit shows it), `r/Python`, `/r/Python` and ` python ` must all find the
stored `python` in every command that filters: `export csv`, `stats`, `sentiment score`,
`sentiment report`, `refresh reddit` (`--dry-run`, `--purge-deleted-only`) and
`ingest reddit-dump`. Other sources' ids match as given. Real databases, real CLI.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from sentiment_pipeline.db.filters import (
    EventFilter,
    SourceIdMatch,
    check_sources,
    source_id_sql,
    subreddit_key,
    where_sql,
)
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sources import source_names
from tests.fixtures.cli import invoke

SPELLINGS = ["Python", "r/Python", "/r/Python", " python ", "PYTHON", "python", "r/pYtHoN"]


def _record(n: int, source_id: str, source: str = "reddit", age: float = 2 * 3600) -> str:
    return json.dumps(
        {
            "id": f"t3_f{n}",
            "occurred_at": time.time() - age + n,
            "source": source,
            "source_id": source_id,
            "event_type": "submission",
            "payload": {"id": f"f{n}", "title": "what a great day", "subreddit": source_id},
        }
    )


def _loaded(url: str, tmp_path: Path, lines: list[str]) -> dict[str, str]:
    """A migrated database at `url` holding `lines` (ingested through the CLI)."""
    env = {"SENTPIPE_DATABASE_URL": url, "SENTPIPE_DATA_DIR": str(tmp_path / "data")}
    assert invoke("db", "init", env=env).exit_code == 0
    source = tmp_path / "in.ndjson"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = invoke("ingest", "ndjson", str(source), "--sink", "database", env=env)
    assert done.exit_code == 0, done.output
    return env


def _reddit_only(url: str, tmp_path: Path) -> dict[str, str]:
    """4 events of r/Python (written as Reddit shows it), 2 of r/stocks, 2 h old."""
    lines = [_record(n, "Python") for n in range(4)] + [_record(n, "stocks") for n in (4, 5)]
    return _loaded(url, tmp_path, lines)


def _json(*args: str, env: dict[str, str]) -> Any:
    result = invoke(*args, "--json", env=env)
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr
    return json.loads(result.stdout)


def _exported(env: dict[str, str], *args: str) -> list[dict[str, str]]:
    result = invoke("export", "csv", "-o", "-", *args, env=env)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_every_command_finds_a_subreddit_however_it_is_written(
    any_db_url: str, tmp_path: Path
) -> None:
    env = _reddit_only(any_db_url, tmp_path)
    for name in SPELLINGS:
        rows = _exported(env, "--subreddit", name)
        assert sorted(r["id"] for r in rows) == [f"t3_f{n}" for n in range(4)], name
        assert {r["source_id"] for r in rows} == {"python"}
        assert len(_exported(env, "--source-id", name, "--source", "reddit")) == 4, name
        stats = _json("stats", "--subreddit", name, env=env)
        assert stats["total"] == 4, name
        assert stats["by_source_id"] == [{"source": "reddit", "source_id": "python", "events": 4}]
        assert _json("sentiment", "score", "--dry-run", "--subreddit", name, env=env)[
            "waiting"
        ] == (4), name
        refresh = _json("refresh", "reddit", "--dry-run", "--subreddit", name, env=env)
        assert refresh["extra"]["due"] == 4, name
    # `refresh --subreddit` also takes comma-separated names
    both = _json("refresh", "reddit", "--dry-run", "-s", "r/Python,STOCKS", env=env)
    assert both["extra"]["due"] == 6

    scored = _json("sentiment", "score", "--subreddit", "r/Python", env=env)
    assert scored["scored"] == 4
    assert _json("sentiment", "score", "--dry-run", env=env)["waiting"] == 2  # stocks only
    for name in SPELLINGS:
        report = _json("sentiment", "report", "--subreddit", name, env=env)
        assert sum(r["events"] for r in report["rows"]) == 4, name
        assert {r["source_id"] for r in report["rows"]} == {"python"}

    engine = sa.create_engine(parse_database_url(any_db_url).sqlalchemy)
    with engine.begin() as connection:  # every item found deleted on an earlier refresh
        connection.execute(
            sa.text(
                "INSERT INTO raw_event_revisions (id, occurred_at, observed_at, state) "
                "SELECT id, occurred_at, occurred_at, 'deleted' FROM raw_events"
            )
        )
    engine.dispose()
    purged = _json(
        "refresh", "reddit", "--purge-deleted-only", "--subreddit", " /r/PYTHON", env=env
    )
    assert purged["extra"]["redacted"] == 4  # r/stocks' two are left as they are
    titles = {r["id"]: r["title"] for r in _exported(env)}
    assert titles == {f"t3_f{n}": "" for n in range(4)} | {
        "t3_f4": "what a great day",
        "t3_f5": "what a great day",
    }


def test_other_sources_match_their_ids_as_given(any_db_url: str, tmp_path: Path) -> None:
    """A `--source-id` value: a subreddit name on Reddit rows, the exact id elsewhere
    (docs/export.md, docs/stats.md)."""
    lines = [
        _record(1, "Python"),  # stored as reddit/python
        _record(2, "Python", source="rss"),  # stored as given
        _record(3, "python", source="rss"),
        _record(4, "news", source="rss"),
        _record(5, "Odd.Name"),  # no subreddit name, stored as reddit/odd.name
    ]
    env = _loaded(any_db_url, tmp_path, lines)

    def ids(*names: str) -> list[str]:
        args = [part for name in names for part in ("--source-id", name)]
        rows = _exported(env, *args)
        stats = _json("stats", *args, env=env)
        assert stats["total"] == len(rows)
        waiting = _json("sentiment", "score", "--dry-run", *args, env=env)["waiting"]
        assert waiting == len(rows)
        return sorted(r["id"] for r in rows)

    assert ids("Python") == ["t3_f1", "t3_f2"]
    assert ids("python") == ["t3_f1", "t3_f3"]
    assert ids("r/Python") == ["t3_f1"]
    assert ids("news") == ["t3_f4"]
    assert ids("r/Python", "news") == ["t3_f1", "t3_f4"]
    assert ids("Odd.Name") == ids("odd.name") == ["t3_f5"]
    upper = invoke("stats", "--source-id", "NEWS", env=env)  # rss ids match as given
    assert upper.exit_code == 0 and "no events for 'NEWS'" in upper.stderr
    assert [r["id"] for r in _exported(env, "--source", "rss", "--source-id", "Python")] == [
        "t3_f2"
    ]
    # the partitioned layout selects each file's rows by its stored (source, source_id)
    out = tmp_path / "parts"
    parted = invoke("export", "csv", "--layout", "partitioned", "--out", str(out), env=env)
    assert parted.exit_code == 0, parted.output
    files = {str(p.relative_to(out).parent): p for p in out.rglob("*.csv")}
    assert sorted(files) == [
        "reddit/odd.name",
        "reddit/python",
        "rss/Python",
        "rss/news",
        "rss/python",
    ]
    assert all(len(p.read_text(encoding="utf-8").splitlines()) == 2 for p in files.values())
    scored = _json("sentiment", "score", env=env)
    assert scored["scored"] == 5
    report = _json("sentiment", "report", "--source-id", "Python", env=env)
    assert sorted((r["source"], r["source_id"]) for r in report["rows"]) == [
        ("reddit", "python"),
        ("rss", "Python"),
    ]


def test_a_filter_that_matches_nothing_says_so(sqlite_url: str, tmp_path: Path) -> None:
    env = _reddit_only(sqlite_url, tmp_path)
    stats = invoke("stats", "--subreddit", "Pyton", "--subreddit", "r/Python", env=env)
    assert stats.exit_code == 0, stats.output
    (warning,) = stats.stderr.splitlines()
    assert "no events for 'Pyton'" in warning and "sentpipe stats" in warning
    assert "No events yet" not in stats.stdout  # there are events, just not of Pyton
    exported = invoke("export", "csv", "-o", "-", "--subreddit", "Pyton", env=env)
    assert exported.exit_code == 0
    assert "no events for 'Pyton'" in exported.stderr
    found = invoke("export", "csv", "-o", "-", "--subreddit", "Python", env=env)
    assert "Warning" not in found.stderr


def test_refresh_and_dump_reject_what_is_no_subreddit_name(sqlite_url: str, tmp_path: Path) -> None:
    env = _reddit_only(sqlite_url, tmp_path)
    for args in (
        ("refresh", "reddit", "--dry-run", "--subreddit", "foo-bar"),
        ("ingest", "reddit-dump", str(tmp_path / "in.ndjson"), "--subreddit", "r/"),
    ):
        result = invoke(*args, env=env)
        assert result.exit_code == 2, result.output
        assert "is not a subreddit name" in result.output
        assert "Python or r/Python" in result.output


def test_dump_subreddit_filter_takes_the_r_prefix(sqlite_url: str, tmp_path: Path) -> None:
    env = _loaded(sqlite_url, tmp_path, [])
    dump = tmp_path / "RS_2024-01.ndjson"
    posts = [
        {"id": f"d{n}", "subreddit": sub, "created_utc": 1_704_067_200 + n, "title": "t"}
        for n, sub in enumerate(["Python", "python", "stocks"])
    ]
    dump.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    result = invoke("ingest", "reddit-dump", str(dump), "-s", "r/PYTHON", "--json", env=env)
    assert result.exit_code == 0, result.output
    stats = _json("stats", env=env)
    assert stats["by_source_id"] == [{"source": "reddit", "source_id": "python", "events": 2}]


# --- the rule itself, for any name ------------------------------------------------------

NAMES = st.from_regex(r"[a-z0-9_]{1,21}", fullmatch=True)


@st.composite
def written(draw: st.DrawFn, name: str) -> str:
    """`name` as a person might write it: any letter case, r/ or /r/ or none, spaces."""
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    cased = "".join(c.upper() if flip else c for c, flip in zip(name, flips, strict=True))
    prefix = draw(st.sampled_from(["", "r/", "/r/"]))
    pad = draw(st.sampled_from(["", " ", "  ", "\t"]))
    return pad + prefix + cased + draw(st.sampled_from(["", " ", "\n"]))


@given(data=st.data(), name=NAMES, other=NAMES)
def test_any_spelling_of_a_stored_subreddit_matches_it(
    data: st.DataObject, name: str, other: str
) -> None:
    typed = data.draw(written(name))
    assert subreddit_key(typed) == name
    match = SourceIdMatch.of([typed])
    assert match.matches("reddit", name)
    assert match.matches("reddit", other) == (other == name)
    assert match.matches("rss", typed)
    assert match.matches("rss", name) == (typed == name)
    # the SQL keeps exactly the rows the rule keeps, on a real (SQLite) table
    rows = [("reddit", name), ("reddit", other), ("rss", typed), ("rss", name), ("rss", other)]
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE TABLE raw_events (n INTEGER, source TEXT, source_id TEXT)")
        conn.executemany(
            "INSERT INTO raw_events VALUES (?, ?, ?)", [(i, *r) for i, r in enumerate(rows)]
        )
        clause, params = where_sql("sqlite", EventFilter(source_ids=(typed,)))
        kept = {n for (n,) in conn.execute(f"SELECT n FROM raw_events {clause}", params)}
    assert kept == {i for i, r in enumerate(rows) if match.matches(*r)}
    assert 0 in kept


def test_stored_names_need_no_rewriting() -> None:
    """Values already in the stored form give a plain `IN`, which uses the index."""
    assert source_id_sql("%s", ["python", "stocks"]) == (
        "source_id IN (%s, %s)",
        ["python", "stocks"],
    )
    clause, params = source_id_sql("?", ["Python", "my-feed"])
    assert clause.count("source = 'reddit'") == 1
    assert params == ["python", "my-feed", "Python", "my-feed"]


# --- --source: a name that is neither registered nor stored is an error ------------------


def test_source_filter_refuses_a_name_of_no_source(any_db_url: str, tmp_path: Path) -> None:
    """`--source hn` (as in `scrape hn`) named nothing stored and exported 0 rows with
    exit 0; now it is exit 2 with one line that says what to type. A stored generic
    source passes, a registered one with no rows yet gives 0 rows, and a name differing
    only in case is the stored one (docs/export.md)."""
    lines = [_record(1, "Python"), _record(2, "Python", source="forum")]
    lines.append(_record(3, "story", source="hackernews"))
    env = _loaded(any_db_url, tmp_path, lines)
    for args in (("export", "csv", "-o", "-"), ("sentiment", "report")):
        for typed in ("hn", "HN"):
            refused = invoke(*args, "--source", "reddit", "--source", typed, env=env)
            assert refused.exit_code == 2, refused.output
            assert refused.stdout == ""
            error = refused.stderr.strip()
            assert "\n" not in error
            assert repr(typed) in error and "Did you mean hackernews?" in error
            assert "forum, hackernews, reddit" in error  # stored and registered names
        typo = invoke(*args, "--source", "redit", env=env)
        assert typo.exit_code == 2 and "Did you mean reddit?" in typo.stderr
    assert [r["id"] for r in _exported(env, "--source", "forum")] == ["t3_f2"]
    assert [r["id"] for r in _exported(env, "--source", "HackerNews")] == ["t3_f3"]
    assert [r["source"] for r in _exported(env, "--source", " Forum ")] == ["forum"]


def test_source_filter_passes_a_registered_source_with_no_rows(
    any_db_url: str, tmp_path: Path
) -> None:
    """A registered source with nothing stored yet (the first scrape is still to come)
    is no error: 0 rows, exit 0."""
    env = _loaded(any_db_url, tmp_path, [_record(1, "Python", source="forum")])
    assert _exported(env, "--source", "reddit", "--source", "hackernews") == []
    nothing = invoke("sentiment", "report", "--source", "hackernews", env=env)
    assert nothing.exit_code == 0 and "No scores" in nothing.stdout


def test_sentiment_report_filters_by_source(any_db_url: str, tmp_path: Path) -> None:
    """`sentiment report --source`: HN story kinds and subreddit names share the source-id
    namespace, so `--subreddit ask` alone would mix r/ask with Ask HN."""
    lines = [_record(1, "ask"), _record(2, "ask", source="hackernews")]
    lines += [_record(3, "story", source="hackernews"), _record(4, "ask", source="forum")]
    env = _loaded(any_db_url, tmp_path, lines)
    assert _json("sentiment", "score", env=env)["scored"] == 4

    def groups(*args: str) -> list[tuple[str, str, int]]:
        report = _json("sentiment", "report", *args, env=env)
        return [(r["source"], r["source_id"], r["events"]) for r in report["rows"]]

    assert groups("--subreddit", "ask") == [
        ("forum", "ask", 1),
        ("hackernews", "ask", 1),
        ("reddit", "ask", 1),
    ]
    assert groups("--source", "hackernews") == [
        ("hackernews", "ask", 1),
        ("hackernews", "story", 1),
    ]
    assert groups("--source", "HackerNews", "--subreddit", "ask") == [("hackernews", "ask", 1)]
    assert groups("--source", "forum", "--source", "reddit") == [
        ("forum", "ask", 1),
        ("reddit", "ask", 1),
    ]
    report = _json("sentiment", "report", "--source", "HackerNews", env=env)
    assert report["filters"]["sources"] == ["hackernews"]  # as stored
    assert _json("sentiment", "report", env=env)["filters"]["sources"] == []


class _Stored:
    """A `Rows` over a fixed set of stored source names, answering the two queries
    `check_sources` runs (the probe, the listing), counting them."""

    def __init__(self, stored: set[str]) -> None:
        self.stored = stored
        self.queries: list[str] = []

    def __call__(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        self.queries.append(sql)
        if params:  # the probe: is this name stored?
            return [(1,)] if params[0] in self.stored else []
        return [(name,) for name in sorted(self.stored)]


SOURCE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@given(
    typed=st.one_of(SOURCE_TEXT, st.sampled_from(["hn", "HN", "Reddit", " forum", "FORUM"])),
    stored=st.sets(st.sampled_from(["forum", "Forum", "rss", "hackernews"]), max_size=3),
)
def test_check_sources_keeps_only_names_of_sources(typed: str, stored: set[str]) -> None:
    """Any value either comes back as a registered or stored name (itself, or the one
    name equal to it ignoring case and blanks), or is a one-line ConfigError naming it."""
    rows = _Stored(stored)
    names = {"hackernews", "reddit", *stored}
    try:
        (got,) = check_sources([typed], "sqlite", rows, source_names())
    except ConfigError as error:
        line = error.one_line()
        assert repr(typed) in line and "Give one of" in line
        assert [n for n in names if n.lower() == typed.strip().lower()] != [typed.strip()]
        return
    assert got in names
    assert got == typed or got.lower() == typed.strip().lower()


def test_check_sources_asks_the_database_only_when_needed() -> None:
    """A built-in name needs no query; a stored one one probe; only a miss lists names."""
    rows = _Stored({"forum"})
    assert check_sources(
        ["reddit", "hackernews", "reddit"], "postgresql", rows, source_names()
    ) == (
        "reddit",
        "hackernews",
    )
    assert rows.queries == []
    assert check_sources(["forum"], "postgresql", rows, source_names()) == ("forum",)
    assert rows.queries == ["SELECT 1 FROM raw_events WHERE source = %s LIMIT 1"]
    assert check_sources(["HackerNews", "hackernews"], "sqlite", rows, source_names()) == (
        "hackernews",
    )
    with pytest.raises(ConfigError) as ambiguous:
        check_sources(["FORUM"], "sqlite", _Stored({"forum", "Forum"}), source_names())
    assert "Did you mean Forum or forum?" in ambiguous.value.one_line()
