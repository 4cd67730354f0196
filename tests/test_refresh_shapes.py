"""`sentpipe refresh reddit` over every stored shape: one item stored under two times,
every removal placeholder Reddit uses, CSV day files with huge fields or older time
texts, a CSV copy an earlier run left unredacted, and edits that must give the same
payload on SQLite and PostgreSQL. Real asyncpraw against the fake API, real databases."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.fake_reddit import RunningFakeReddit
from sentiment_pipeline.refresh import RefreshOptions, refresh_reddit
from sentiment_pipeline.refresh.observe import EDIT_KEYS, Observation, edit_patch, observe
from sentiment_pipeline.refresh.observe import text_hash as hash_of
from sentiment_pipeline.refresh.store import RefreshStore, open_store
from sentiment_pipeline.sentiment import ScoreOptions, score_events
from sentiment_pipeline.sentiment.clean import event_text
from sentiment_pipeline.sinks import build_sinks
from sentiment_pipeline.sinks.csv_sink import COLUMNS, CsvSink, day_file, rewrite_payloads
from sentiment_pipeline.sources import SourceSpec, generic_text
from sentiment_pipeline.sources.reddit.removed import PLACEHOLDERS
from sentiment_pipeline.timeparse import canonical_text
from tests.fixtures.cli import invoke
from tests.fixtures.events import event, stored_rows
from tests.test_refresh import all_due, csv_files, query, scraped, settings_for
from tests.test_scrape import init_db, reddit_env

SENTPIPE = Path(sys.executable).with_name("sentpipe")
IN_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def csv_rows(directory: Path, ident: str) -> list[dict[str, str]]:
    """The CSV sink's rows of `ident`, over every day file."""
    found = []
    for path in sorted(directory.rglob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            found += [row for row in csv.DictReader(handle) if row["id"] == ident]
    return found


def store_copy(settings: Any, row: Any, later: timedelta) -> None:
    """The same item once more, `later` than stored (as a second source would give it),
    in the database and the CSV sink."""
    copy = event(
        0,
        id=row.id,
        occurred_at=(row.occurred_at + later).timestamp(),
        source_id=row.source_id,
        event_type=row.event_type,
        payload=row.payload,
    )
    database = build_sinks(["database"], settings)[0]
    try:
        assert len(database.write([copy]).new) == 1
    finally:
        database.close()
    sink = CsvSink(settings.csv_path)
    sink.write([copy])
    sink.close()


def cli_refresh(env: dict[str, str | None], *args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as cron runs it."""
    return subprocess.run(
        [str(SENTPIPE), "refresh", "reddit", "--schedule", "1s", "--max-age", "1s", *args],
        env={**os.environ, **{k: v for k, v in env.items() if v is not None}},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# case 20: one fullname stored under two times ---------------------------------------


def test_one_item_stored_twice_is_observed_once_per_row_and_redacted_everywhere(
    fake_reddit: RunningFakeReddit, tmp_path: Path, any_db_url: str
) -> None:
    settings = settings_for(fake_reddit, tmp_path, any_db_url)
    scraped(fake_reddit, settings)
    rows = stored_rows(any_db_url)
    comment = next(r for r in rows if r.event_type == "comment" and r.payload.get("body"))
    text = comment.payload["body"]
    store_copy(settings, comment, timedelta(seconds=1))
    assert len(csv_rows(settings.csv_path, comment.id)) == 2
    fake_reddit.delete(comment.id)
    fake_reddit.clear_log()

    env = reddit_env(fake_reddit, tmp_path, any_db_url)
    newest = max(r.occurred_at.timestamp() for r in rows) + 1  # the copy
    time.sleep(max(0.0, newest + 1.05 - time.time()))  # every row reaches the 1 s schedule
    first = cli_refresh(env, "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)["extra"]
    stored = len(rows) + 1
    assert report["due"] == stored and report["asked"] == len(rows)
    assert report["states"]["deleted"] == 2 and report["redacted"] == 2
    assert report["requests"]["info"] == math.ceil(len(rows) / 100)
    asked = [
        name
        for entry in fake_reddit.request_log
        if entry["route"] == "info"
        for name in entry["query"]["id"].split(",")
    ]
    assert sorted(asked) == sorted({r.id for r in rows})  # each fullname asked once
    # one observation per stored row, both copies deleted
    per_row = query(
        any_db_url,
        "SELECT id, count(*), min(state), max(state) FROM raw_event_revisions GROUP BY id, "
        "occurred_at",
    )
    assert len(per_row) == stored and {n for _, n, _, _ in per_row} == {1}
    assert sorted(s for i, _, s, _ in per_row if i == comment.id) == ["deleted", "deleted"]
    copies = [r for r in stored_rows(any_db_url) if r.id == comment.id]
    assert len(copies) == 2
    for copy in copies:
        assert copy.payload["body"] == "" and copy.payload["author"] == ""
    in_csv = csv_rows(settings.csv_path, comment.id)
    assert len(in_csv) == 2
    assert all(json.loads(row["payload"])["body"] == "" for row in in_csv)
    assert all(json.loads(row["payload"])["author"] == "" for row in in_csv)
    assert text and text not in json.dumps([csv_rows(settings.csv_path, r.id) for r in rows])

    fake_reddit.clear_log()
    second = cli_refresh(env, "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["extra"]["due"] == 0
    assert fake_reddit.count() == 0  # not even a token


def test_the_store_takes_a_repeated_row_once(any_db_url: str, tmp_path: Path) -> None:
    """Defensively: one stored row given twice in a batch is recorded and redacted once."""
    init_db(parse_database_url(any_db_url))
    sink = build_sinks(["database"], _settings(any_db_url, tmp_path))[0]
    sink.write([event(1, payload={"title": "call me", "author": "u1"})])
    sink.close()
    ((ident, occurred),) = query(any_db_url, "SELECT id, occurred_at FROM raw_events")
    store = open_store(parse_database_url(any_db_url))
    try:
        twice = [Observation(ident, occurred, "deleted"), Observation(ident, occurred, "deleted")]
        store.record(twice, store.now())
        found, _ = store.redact([(ident, occurred), (ident, occurred)])
    finally:
        store.close()
    assert query(any_db_url, "SELECT count(*) FROM raw_event_revisions") == [(1,)]
    assert [row.changed for row in found] == [True]
    assert stored_rows(any_db_url)[0].payload == {"title": "", "author": ""}


def test_the_store_sees_only_its_sources_events_and_hashes_its_text_keys(
    any_db_url: str, tmp_path: Path
) -> None:
    """The refresh store reads which events are its source's, and which payload keys are
    their text, from the source's spec: another source's event is never due, and the
    text hash is the one `observe` computes from the spec's keys."""
    init_db(parse_database_url(any_db_url))
    young = datetime.now(UTC) - timedelta(hours=2)
    payload = {"title": "a fine day", "selftext": "call me", "text": "elsewhere"}
    sink = build_sinks(["database"], _settings(any_db_url, tmp_path))[0]
    sink.write(
        [
            event(1, occurred_at=young.isoformat(), payload=payload),
            event(2, occurred_at=young.isoformat(), source="feed", payload=payload),
        ]
    )
    sink.close()
    store = open_store(parse_database_url(any_db_url))
    try:
        due = store.due_items(store.now(), [timedelta(hours=1)], [])
    finally:
        store.close()
    assert [(item.id, item.text_hash) for item in due] == [(event(1).id, hash_of(payload))]
    feed = SourceSpec(name="feed", text_of=generic_text, text_keys=("text",))
    store = open_store(parse_database_url(any_db_url), feed)
    try:
        due = store.due_items(store.now(), [timedelta(hours=1)], [])
    finally:
        store.close()
    expected = hashlib.md5(b"elsewhere", usedforsecurity=False).hexdigest()
    assert [(item.id, item.text_hash) for item in due] == [(event(2, source="feed").id, expected)]


# removal placeholders ------------------------------------------------------------------

# (text as Reddit shows it, the state it means)
PLACEHOLDER_STATES = [
    ("[deleted]", "deleted"),
    ("[removed]", "removed"),
    ("[deleted by user]", "deleted"),
    ("[ Removed by Reddit ]", "removed"),
    ("[ Removed by Reddit on account of violating the content policy. ]", "removed"),
    (
        "[ Removed by Reddit on account of violating the [content policy](/help/contentpolicy). ]",
        "removed",
    ),
    ("[ Removed by Reddit in response to a copyright notice. ]", "removed"),
    ("[ Removed by moderator ]", "removed"),
    # variants: case, blanks, a missing full stop, another reason
    ("  [DELETED]\n", "deleted"),
    ("[ removed  by\u00a0reddit ]", "removed"),
    ("[Removed by Reddit on account of violating the content policy]", "removed"),
    ("[ Removed by Reddit on behalf of a legal request ]", "removed"),
    ("[ Removed by moderator: spam ]", "removed"),
]


def test_every_listed_placeholder_is_tested() -> None:
    assert set(PLACEHOLDERS) <= {text for text, _ in PLACEHOLDER_STATES}


@pytest.mark.parametrize(("text", "state"), PLACEHOLDER_STATES)
@pytest.mark.parametrize("key", ["body", "selftext", "title"])
def test_a_placeholder_gives_its_state_and_is_never_scored(text: str, state: str, key: str) -> None:
    stored = {"title": "a fine day", "selftext": "call me on 555-0100", "body": "I love it"}
    fresh = {**stored, key: text, "author": "[deleted]"}
    seen = observe("t1_x", "2024-01-01", hash_of(stored), fresh)
    assert seen.state == state and seen.patch is None  # never `edited`
    if key == "body":
        assert event_text("reddit", "comment", {"body": text}) is None
    else:
        title = text if key == "title" else ""
        assert event_text("reddit", "submission", {"title": title, "selftext": text}) is None


@pytest.mark.parametrize(
    ("category", "state"),
    [
        ("deleted", "deleted"),
        ("author", "deleted"),
        ("user", "deleted"),
        ("moderator", "removed"),
        ("automod_filtered", "removed"),
        ("reddit", "removed"),
        ("anti_evil_ops", "removed"),
        ("community_ops", "removed"),
        ("legal_operations", "removed"),
        ("copyright_takedown", "removed"),
        ("content_takedown", "removed"),
        ("something_new", "removed"),
    ],
)
def test_removed_by_category_decides(category: str, state: str) -> None:
    fresh = {"title": "t", "selftext": "unchanged", "removed_by_category": category}
    assert observe("t3_x", "2024-01-01", hash_of(fresh), fresh).state == state


@pytest.mark.parametrize(
    "text",
    ["[deleted] lol", "I [removed] it", "[removed my comment, sorry]", "deleted", "[x]", ""],
)
def test_text_that_only_looks_like_a_placeholder_is_live_and_scored(text: str) -> None:
    fresh = {"body": text, "author": "[deleted]"}  # the account is gone, the text is not
    assert observe("t1_x", "2024-01-01", hash_of(fresh), fresh).state == "live"
    assert (event_text("reddit", "comment", {"body": text}) is None) == (text == "")


def test_admin_removals_are_redacted_and_not_scored(
    fake_reddit_factory: Any, tmp_path: Path
) -> None:
    from sentiment_pipeline.fake_reddit import SubredditSpec, fixture_config
    from sentiment_pipeline.scrape import RedditScrapeOptions, scrape_reddit
    from sentiment_pipeline.settings import SubredditTarget

    spec = SubredditSpec(name="busy", posts=12, comments_per_post=5)
    fake_reddit = fake_reddit_factory(fixture_config(subreddits=(spec,)))
    settings = settings_for(fake_reddit, tmp_path)
    scrape_reddit(settings, [SubredditTarget(name="busy")], RedditScrapeOptions())
    url = settings.database.sqlalchemy
    score_events(settings.database, ScoreOptions())
    rows = stored_rows(url)
    due = datetime.now(UTC) - timedelta(minutes=1)  # the fake's newest are seconds old
    comments = [r for r in rows if r.event_type == "comment" and r.occurred_at < due]
    post = next(r for r in rows if r.event_type == "submission" and r.occurred_at < due)
    assert len(comments) >= len(PLACEHOLDER_STATES)
    expected = {}
    for row, (text, state) in zip(comments, PLACEHOLDER_STATES, strict=False):
        fake_reddit.remove(row.id, text=text)
        expected[row.id] = state
    fake_reddit.remove(
        post.id,
        category="anti_evil_ops",
        text="[ Removed by Reddit on account of violating the content policy. ]",
        title="[ Removed by Reddit ]",
    )
    expected[post.id] = "removed"
    result = refresh_reddit(all_due(settings), RefreshOptions())
    assert result.exit_code == 0, result.errors
    assert result.report.states["edited"] == 0
    states = dict(query(url, "SELECT id, state FROM raw_event_revisions"))
    assert {i: states[i] for i in expected} == expected
    after = {r.id: r.payload for r in stored_rows(url)}
    for ident in expected:
        assert after[ident].get("body", "") == "" and after[ident].get("author") == ""
        assert after[ident].get("title", "") == "" and after[ident].get("selftext", "") == ""
    scores = {i for (i,) in query(url, "SELECT id FROM sentiment_scores")}
    assert not scores & set(expected)
    score_events(settings.database, ScoreOptions())
    assert not {i for (i,) in query(url, "SELECT id FROM sentiment_scores")} & set(expected)


def test_a_stored_placeholder_is_not_scored(tmp_path: Path) -> None:
    from sentiment_pipeline.settings import load_settings

    settings = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.db'}")
    init_db(settings.database)
    sink = build_sinks(["database"], settings)[0]
    texts = [text for text, _ in PLACEHOLDER_STATES] + ["what a wonderful day"]
    sink.write(
        [
            event(n, id=f"t1_{n:x}", event_type="comment", payload={"body": text})
            for n, text in enumerate(texts)
        ]
    )
    sink.close()
    score_events(settings.database, ScoreOptions())
    scored = query(settings.database.sqlalchemy, "SELECT id FROM sentiment_scores")
    assert scored == [(f"t1_{len(texts) - 1:x}",)]


# CSV day files -------------------------------------------------------------------------


def write_day_file(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def test_rewrite_takes_fields_of_any_size_and_older_time_texts(tmp_path: Path) -> None:
    assert csv.field_size_limit() == 131_072  # the interpreter's default, as in a fresh run
    moment = datetime(2024, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
    huge = json.dumps({"body": "x" * 300_000})
    path = day_file(tmp_path, "reddit", "python", moment)
    stamp = canonical_text(moment)
    old_stamp = "2024-03-04T05:06:07.890000+00:00"  # as an older version wrote times
    rows = [
        [ident, time, "reddit", "python", "comment", huge, "", "false", ""]
        for ident, time in (("t1_big", stamp), ("t1_old", old_stamp), ("t1_keep", stamp))
    ]
    write_day_file(path, rows)
    before = path.read_bytes()
    blank = json.dumps({"body": ""})
    changed = rewrite_payloads(path, {("t1_big", moment): blank, ("t1_old", moment): blank})
    assert changed == 2
    with path.open(newline="", encoding="utf-8") as handle:
        got = list(csv.reader(handle))
    assert [r[5] for r in got[1:]] == [blank, blank, huge]
    # the untouched row is the same bytes
    assert before.split(b"\r\n")[3] == path.read_bytes().split(b"\r\n")[3]
    assert rewrite_payloads(path, {("t1_big", moment): blank}) == 0  # idempotent


def test_day_file_names_years_below_1000_with_four_digits(tmp_path: Path) -> None:
    moment = datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert day_file(tmp_path, "reddit", "python", moment).name == "0999-01-02.csv"
    sink = CsvSink(tmp_path)
    sink.write([event(0, occurred_at="0999-01-02T03:04:05Z")])
    sink.close()
    assert day_file(tmp_path, "reddit", "python", moment).exists()


def test_redaction_rewrites_a_day_file_holding_a_huge_field(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = settings_for(fake_reddit, tmp_path)
    scraped(fake_reddit, settings)
    url = settings.database.sqlalchemy
    comment = next(r for r in stored_rows(url) if r.event_type == "comment")
    neighbour = event(
        0,
        id="t1_zzbig",
        occurred_at=comment.occurred_at.timestamp(),
        source_id=comment.source_id,
        event_type="comment",
        payload={"body": "y" * 200_000},
    )
    sink = CsvSink(settings.csv_path)
    sink.write([neighbour])  # the same day file, a field past the csv module's default
    sink.close()
    fake_reddit.delete(comment.id)
    result = refresh_reddit(all_due(settings), RefreshOptions())
    assert result.exit_code == 0, result.errors
    assert result.report.csv_rows_rewritten == 1
    (row,) = csv_rows(settings.csv_path, comment.id)
    assert json.loads(row["payload"])["body"] == ""
    (big,) = csv_rows(settings.csv_path, "t1_zzbig")
    assert big["payload"] == neighbour.payload_json


# --purge-deleted-only repairs every copy ------------------------------------------------


def test_purge_repairs_a_csv_copy_left_unredacted(
    fake_reddit: RunningFakeReddit, tmp_path: Path, any_db_url: str
) -> None:
    settings = settings_for(fake_reddit, tmp_path, any_db_url)
    scraped(fake_reddit, settings)
    comment = next(r for r in stored_rows(any_db_url) if r.event_type == "comment")
    text = comment.payload["body"]
    before = csv_files(settings)
    fake_reddit.delete(comment.id)
    assert refresh_reddit(all_due(settings), RefreshOptions()).report.redacted == 1
    # an earlier run blanked the database but crashed before the CSV rewrite
    for path, data in before.items():
        path.write_bytes(data)
    (row,) = csv_rows(settings.csv_path, comment.id)
    assert json.loads(row["payload"])["body"] == text

    env = {"SENTPIPE_DATA_DIR": str(tmp_path), "SENTPIPE_DATABASE_URL": any_db_url}
    fake_reddit.clear_log()
    purged = invoke("refresh", "reddit", "--purge-deleted-only", "--json", env=env)
    assert purged.exit_code == 0, purged.output
    extra = json.loads(purged.stdout)["extra"]
    assert extra["redacted"] == 0  # the database copy was blank already
    assert extra["csv_rows_rewritten"] == 1 and extra["csv_files_rewritten"] == 1
    (row,) = csv_rows(settings.csv_path, comment.id)
    assert json.loads(row["payload"])["body"] == "" and text
    assert json.loads(row["payload"]) == next(
        r.payload for r in stored_rows(any_db_url) if r.id == comment.id
    )
    assert fake_reddit.count() == 0
    again = invoke("refresh", "reddit", "--purge-deleted-only", "--json", env=env)
    assert json.loads(again.stdout)["extra"]["csv_rows_rewritten"] == 0


# edits give the same payload on every backend ------------------------------------------

_TEXT = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(["\x00", "\ud83d", "é", "😀", "\u202e"])),
    max_size=12,
)
_VALUE = st.one_of(st.none(), st.just(""), _TEXT, st.booleans(), st.integers(0, 2**40).map(float))
# a fresh payload as /api/info gives it: any of the edit fields, each maybe missing
_FRESH = st.dictionaries(st.sampled_from([*EDIT_KEYS, "score"]), _VALUE, max_size=len(EDIT_KEYS))
_IDS = itertools.count()


@pytest.fixture
def edit_stores(postgres_url: str, sqlite_url: str) -> Iterator[list[tuple[str, RefreshStore]]]:
    stores = []
    for url in (postgres_url, sqlite_url):
        parsed: DatabaseURL = parse_database_url(url)
        init_db(parsed)
        stores.append((url, open_store(parsed)))
    yield stores
    for _, store in stores:
        store.close()


@settings(
    max_examples=40,
    derandomize=IN_CI,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=_FRESH, edits=st.lists(_FRESH, min_size=1, max_size=5))
def test_edit_sequences_give_the_same_payload_on_sqlite_and_postgresql(
    edit_stores: list[tuple[str, RefreshStore]],
    tmp_path: Path,
    first: dict[str, Any],
    edits: list[dict[str, Any]],
) -> None:
    ident = f"t3_e{next(_IDS):x}"
    start = event(0, id=ident, payload={"title": "a", **first})
    expected = dict(start.payload)
    for fresh in edits:  # PostgreSQL's `||`: top-level keys replaced, nulls kept
        expected.update(edit_patch(fresh))
    payloads = []
    for url, store in edit_stores:
        sink = build_sinks(["database"], _settings(url, tmp_path))[0]
        sink.write([start])
        sink.close()
        occurred = query(url, "SELECT occurred_at FROM raw_events WHERE id = :i", i=ident)[0][0]
        seen_at = datetime(2030, 1, 1, tzinfo=UTC)
        for n, fresh in enumerate(edits):
            edited = Observation(ident, occurred, "edited", patch=edit_patch(fresh))
            assert store.record([edited], seen_at + timedelta(seconds=n)) == 1
        (row,) = [r for r in stored_rows(url) if r.id == ident]
        payloads.append(row.payload)
    assert payloads[0] == payloads[1] == expected


def _settings(url: str, data_dir: Path) -> Any:
    from sentiment_pipeline.settings import load_settings

    return load_settings(data_dir=data_dir, database_url=url)


# a refresh killed in the middle of a redaction -----------------------------------------


class Killed(BaseException):
    """What SIGKILL does to a run, for a test in one process: nothing after it runs."""


def test_a_redaction_cut_between_the_database_and_the_csv_is_finished_by_the_next_run(
    fake_reddit: RunningFakeReddit, tmp_path: Path, any_db_url: str
) -> None:
    from sentiment_pipeline.sinks import csv_sink

    settings = settings_for(fake_reddit, tmp_path, any_db_url)
    scraped(fake_reddit, settings)
    rows = stored_rows(any_db_url)
    comment = next(r for r in rows if r.event_type == "comment" and r.payload.get("body"))
    text = comment.payload["body"]
    newest = max(r.occurred_at.timestamp() for r in rows)
    time.sleep(max(0.0, newest + 1.05 - time.time()))  # every row reaches the 1 s schedule
    fake_reddit.delete(comment.id)

    def killed(*_: Any) -> int:
        raise Killed

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_sink, "rewrite_payloads", killed)
        with pytest.raises(Killed):
            refresh_reddit(all_due(settings), RefreshOptions())
    # the database row is blanked, the CSV copy still holds the text, the item observed
    assert next(r for r in stored_rows(any_db_url) if r.id == comment.id).payload["body"] == ""
    assert [
        json.loads(row["payload"])["body"] for row in csv_rows(settings.csv_path, comment.id)
    ] == [text]
    assert list((settings.data_dir / "journal").glob("redact-*.json"))

    again = refresh_reddit(all_due(settings), RefreshOptions())
    assert again.exit_code == 0, again.errors
    assert again.report.due == 0  # nothing due: the item is not visited again...
    assert again.report.csv_rows_rewritten == 1  # ...but its redaction is finished
    copies = csv_rows(settings.csv_path, comment.id)
    assert [json.loads(row["payload"])["body"] for row in copies] == [""]
    assert not list((settings.data_dir / "journal").glob("redact-*.json"))
