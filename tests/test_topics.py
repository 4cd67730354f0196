"""Topic links: the tagger's rule, the sinks writing links with the events (three
backends and the CSV sink), `sentpipe topics match` (stale links removed, resumable,
windows) and `sentpipe topics list`."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.dto import RawEventDTO
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sinks.csv_sink import CsvSink
from sentiment_pipeline.sinks.postgres import PostgresSink
from sentiment_pipeline.sinks.sqlite import SqliteSink
from sentiment_pipeline.sources.topic import TopicSettings, parse_topic_flag, topics_from
from sentiment_pipeline.timeparse import storage_text, to_utc
from sentiment_pipeline.topics import Tagger
from sentiment_pipeline.topics.match import list_topics, match_topics
from tests.fixtures.cli import invoke
from tests.fixtures.events import event, stored_rows

TOPICS = {
    "tesla": TopicSettings(query='(tesla OR "model 3") NOT "nikola tesla"'),
    "cars": TopicSettings(query="car OR cars", subreddits=["cars"]),
}


def tagger(configured: dict[str, TopicSettings] | None = None) -> Tagger:
    return Tagger(topics_from(configured or TOPICS))


def post(n: int, title: str, text: str = "", sub: str = "cars") -> RawEventDTO:
    return event(n, source_id=sub, payload={"title": title, "selftext": text, "id": f"{n:x}"})


def comment(n: int, body: str, link: int, sub: str = "cars") -> RawEventDTO:
    return event(
        n,
        id=f"t1_{n:x}",
        source_id=sub,
        event_type="comment",
        payload={"body": body, "link_id": f"t3_{link:x}"},
    )


def links_of(found: Any) -> set[tuple[str, str, str]]:
    return {(link.id, link.topic, link.via) for link in found}


# --- the rule --------------------------------------------------------------------------


def test_a_comment_links_by_its_text_and_by_its_post() -> None:
    batch = [
        post(1, "My new Tesla"),
        comment(2, "congrats", link=1),
        comment(3, "the model 3 is a car", link=1),
        comment(4, "Nikola Tesla was a genius", link=1),
    ]
    assert links_of(tagger().links(batch)) == {
        ("t3_1", "tesla", "text"),
        ("t1_2", "tesla", "post"),
        ("t1_3", "tesla", "text"),  # by text wins over by post: one link per topic
        ("t1_3", "cars", "text"),
        ("t1_4", "tesla", "post"),  # NOT removes its own text's match, not its post's
    }


def test_scope_limits_reddit_events_only() -> None:
    found = tagger().links(
        [
            post(1, "cars and more", sub="python"),
            event(2, source="forum", source_id="x", payload={"text": "cars everywhere"}),
        ]
    )
    assert links_of(found) == {(event(2).id, "cars", "text")}


def test_title_and_text_fields_and_placeholders() -> None:
    t = tagger({"t": TopicSettings(query="title:rust"), "x": TopicSettings(query="removed")})
    found = t.links(
        [post(1, "Rust 2.0", "[removed]"), post(2, "news", "rust rust"), comment(3, "rust", 9)]
    )
    assert links_of(found) == {("t3_1", "t", "text")}


def test_a_post_stored_earlier_links_through_the_lookup() -> None:
    asked: list[set[str]] = []

    def stored(ids: Any) -> dict[str, set[str]]:
        asked.append(set(ids))
        return {"t3_9": {"tesla", "gone"}}

    found = tagger().links([comment(2, "nice", link=9), comment(3, "ok", link=8)], stored)
    assert asked == [{"t3_9", "t3_8"}]
    assert links_of(found) == {("t1_2", "tesla", "post")}  # "gone" is no topic now


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["tesla", "model 3", "car", "nikola tesla", "x"]), max_size=6))
def test_every_link_by_text_is_the_matcher_s_answer(words: list[str]) -> None:
    text = " ".join(words)
    topics = topics_from(TOPICS)
    expected = {t.name for t in topics if t.matcher.matches(text)}
    found = tagger().links([comment(1, text, link=5)])
    assert {link.topic for link in found if link.via == "text"} == expected


def test_flags_and_names_are_checked() -> None:
    expected = ("tsla", TopicSettings(query="tesla OR tsla"))
    assert parse_topic_flag("tsla = tesla OR tsla") == expected
    for bad in ("tesla", "=tesla", "x="):
        with pytest.raises(ConfigError, match="NAME=QUERY"):
            parse_topic_flag(bad)
    with pytest.raises(ConfigError, match="not allowed"):
        topics_from({"Bad Name": TopicSettings(query="x")})
    with pytest.raises(ConfigError, match=r'topic "t".*position'):
        topics_from({"t": TopicSettings(query="(tesla")})


# --- the writers -----------------------------------------------------------------------


def _rows(url: str) -> set[tuple[str, str, str]]:
    parsed = parse_database_url(url)
    if parsed.backend == "sqlite":
        with sqlite3.connect(parsed.sqlite_path) as conn:
            return set(conn.execute("SELECT id, topic, via FROM event_topics").fetchall())
    with psycopg.connect(parsed.libpq) as conn:
        return set(conn.execute("SELECT id, topic, via FROM event_topics").fetchall())


def _database_sink(url: str, t: Tagger | None) -> PostgresSink | SqliteSink:
    parsed = parse_database_url(url)
    init_db(parsed)
    if parsed.backend == "sqlite":
        return SqliteSink(parsed, t)
    return PostgresSink(parsed, t)


def test_database_sinks_store_links_with_the_events(any_db_url: str) -> None:
    sink = _database_sink(any_db_url, tagger())
    first = sink.write([post(1, "Tesla news"), comment(2, "a car", link=1)])
    assert links_of(first.links) == {
        ("t3_1", "tesla", "text"),
        ("t1_2", "cars", "text"),
        ("t1_2", "tesla", "post"),
    }
    # a later batch: the post is found in event_topics; a repeat stores nothing twice
    later = sink.write([comment(3, "meh", link=1), comment(2, "a car", link=1)])
    assert links_of(later.links) == {("t1_3", "tesla", "post")}
    assert later.duplicates == 1
    sink.close()
    assert _rows(any_db_url) == links_of(first.links) | links_of(later.links)


def test_a_sink_without_topics_writes_no_links(sqlite_url: str) -> None:
    sink = _database_sink(sqlite_url, None)
    assert sink.write([post(1, "Tesla news")]).links == []
    sink.close()
    assert _rows(sqlite_url) == set()


def _link_files(directory: Path) -> dict[str, list[list[str]]]:
    found = {}
    for path in sorted(directory.glob("topic=*/*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            found[f"{path.parent.name}/{path.name}"] = list(csv.reader(handle))
    return found


def test_the_csv_sink_alone_keeps_links_in_a_file_per_topic(tmp_path: Path) -> None:
    sink = CsvSink(tmp_path, tagger=tagger())
    batch = [post(1, "Tesla news"), comment(2, "nice", link=1)]
    result = sink.write(batch)
    assert links_of(result.links) == {("t3_1", "tesla", "text"), ("t1_2", "tesla", "post")}
    again = CsvSink(tmp_path, tagger=tagger()).write(batch)  # a rerun: nothing twice
    assert again.links == [] and again.duplicates == 2
    files = _link_files(tmp_path)
    assert list(files) == ["topic=tesla/2023-11-14.csv"]
    header, *rows = files["topic=tesla/2023-11-14.csv"]
    assert header == ["id", "occurred_at", "topic", "via"]
    assert sorted(rows) == [
        ["t1_2", "2023-11-14T22:13:22.000000Z", "tesla", "post"],
        ["t3_1", "2023-11-14T22:13:21.000000Z", "tesla", "text"],
    ]


def test_csv_links_written_twice_are_kept_once(tmp_path: Path) -> None:
    """Links go first, so a crash before the events is repaired by the rerun, which
    writes the same links again: the file keeps each once."""
    sink = CsvSink(tmp_path, tagger=tagger())
    links = tagger().links([post(1, "Tesla news")])
    sink.write_links(links)
    sink.write_links(links)
    assert len(_link_files(tmp_path)["topic=tesla/2023-11-14.csv"]) == 2


def test_the_csv_sink_following_the_database_keeps_its_links(
    sqlite_url: str, tmp_path: Path
) -> None:
    init_db(parse_database_url(sqlite_url))
    config = tmp_path / "sentpipe.yml"
    config.write_text("topics:\n  tesla:\n    query: tesla\n", encoding="utf-8")
    lines = [
        '{"id": "t3_1", "occurred_at": 1700000001, "source": "reddit", "source_id": "cars", '
        '"event_type": "submission", "payload": {"title": "Tesla"}}',
        '{"id": "t1_2", "occurred_at": 1700000002, "source": "reddit", "source_id": "cars", '
        '"event_type": "comment", "payload": {"body": "ok", "link_id": "t3_1"}}',
    ]
    source = tmp_path / "in.ndjson"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_CSV_DIR": str(tmp_path / "csv")}
    metrics = tmp_path / "ingest.prom"
    result = invoke(
        "-c", str(config), "ingest", "ndjson", str(source), "--json",
        "--metrics-file", str(metrics), env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"topic_links"' in result.output and '"post": 1' in result.output
    series = metrics.read_text(encoding="utf-8")
    assert (
        'sentpipe_topic_events_linked{command="ingest_ndjson",topic="tesla",via="post"} 1.0'
        in series
    )
    assert _rows(sqlite_url) == {("t3_1", "tesla", "text"), ("t1_2", "tesla", "post")}
    rows = _link_files(tmp_path / "csv")["topic=tesla/2023-11-14.csv"][1:]
    assert sorted((r[0], r[2], r[3]) for r in rows) == sorted(_rows(sqlite_url))


# --- re-matching -----------------------------------------------------------------------


def _stored(url: str, topics: dict[str, TopicSettings], batch: list[RawEventDTO]) -> None:
    sink = _database_sink(url, tagger(topics))
    sink.write(batch)
    sink.close()


HISTORY = [
    post(1, "Tesla news"),
    comment(2, "a car", link=1),
    post(3, "Nikola Tesla biography"),
    comment(4, "ok", link=3),
    post(5, "Rivian"),
    comment(6, "my model 3", link=5),
]


def test_rematching_after_a_query_change_removes_stale_links(any_db_url: str) -> None:
    url = parse_database_url(any_db_url)
    _stored(any_db_url, {"tesla": TopicSettings(query="tesla")}, HISTORY)
    assert ("t3_3", "tesla", "text") in _rows(any_db_url)
    report = match_topics(url, topics_from(TOPICS), batch_size=2)
    assert report.topics["tesla"].status == "matched"
    assert report.scanned == len(HISTORY)
    assert _rows(any_db_url) == links_of(tagger().links(HISTORY))
    assert ("t3_3", "tesla", "text") not in _rows(any_db_url)
    # a second run has nothing to do; --topic (force) does it again, to the same links
    again = match_topics(url, topics_from(TOPICS))
    assert {run.status for run in again.topics.values()} == {"up to date"}
    forced = match_topics(url, topics_from(TOPICS), force=True, batch_size=4)
    assert forced.topics["tesla"].status == "matched"
    assert _rows(any_db_url) == links_of(tagger().links(HISTORY))


def test_an_interrupted_match_resumes_where_it_stopped(sqlite_url: str) -> None:
    url = parse_database_url(sqlite_url)
    _stored(sqlite_url, {}, HISTORY)
    asked = iter([False, True])
    first = match_topics(url, topics_from(TOPICS), batch_size=2, stop=lambda: next(asked, True))
    assert first.stopped and first.scanned == 2
    listing = {item.name: item.state for item in list_topics(url, topics_from(TOPICS))}
    assert listing == {"cars": "match interrupted", "tesla": "match interrupted"}
    second = match_topics(url, topics_from(TOPICS), batch_size=2)
    assert second.topics["tesla"].status == "resumed"
    assert second.scanned == len(HISTORY) - 2
    assert _rows(sqlite_url) == links_of(tagger().links(HISTORY))


def test_a_window_keeps_the_links_before_it(postgres_url: str) -> None:
    url = parse_database_url(postgres_url)
    _stored(postgres_url, {"tesla": TopicSettings(query="tesla OR rivian")}, HISTORY)
    since = to_utc(f"{event(5).occurred_at.isoformat()}")
    report = match_topics(url, topics_from({"tesla": TOPICS["tesla"]}), since=since)
    assert report.scanned == 2
    rows = _rows(postgres_url)
    assert ("t3_3", "tesla", "text") in rows  # before the window: untouched
    assert ("t3_5", "tesla", "text") not in rows  # in it: matched again
    assert ("t1_6", "tesla", "text") in rows


def test_list_shows_counts_and_states(sqlite_url: str) -> None:
    url = parse_database_url(sqlite_url)
    _stored(sqlite_url, {"tesla": TopicSettings(query="tesla")}, HISTORY)
    changed = topics_from(TOPICS)
    listing = {item.name: item for item in list_topics(url, changed)}
    assert listing["tesla"].state == "history not matched"
    assert listing["tesla"].figures is not None and listing["tesla"].figures.by_text == 2
    match_topics(url, changed)
    moved = topics_from({"tesla": TopicSettings(query="tesla OR rivian")})
    listing = {item.name: item for item in list_topics(url, moved)}
    assert listing["tesla"].state == "query or scope changed since the last match"
    assert listing["cars"].state == "not configured" and listing["cars"].query is None
    newest = listing["tesla"].figures.newest if listing["tesla"].figures else None
    assert newest == event(6).occurred_at


# --- the commands ----------------------------------------------------------------------


def _config(tmp_path: Path, query: str = '"model 3" OR tesla') -> str:
    path = tmp_path / "topics.yml"
    path.write_text(f"topics:\n  tesla:\n    query: '{query}'\n", encoding="utf-8")
    return str(path)


def test_topics_commands_from_the_cli(sqlite_url: str, tmp_path: Path) -> None:
    _stored(sqlite_url, {}, HISTORY)
    env = {"SENTPIPE_DATABASE_URL": sqlite_url}
    config = _config(tmp_path)
    listed = invoke("-c", config, "topics", "list", "--json", env=env)
    assert listed.exit_code == 0, listed.output
    assert '"state": "history not matched"' in listed.output
    matched = invoke("-c", config, "topics", "match", env=env)
    assert matched.exit_code == 0, matched.output
    assert "tesla: matched, 6 events read, 5 linked (3 by text, 2 by post)" in matched.output
    unknown = invoke("-c", config, "topics", "match", "--topic", "rivian", env=env)
    assert unknown.exit_code == 2 and "no topic 'rivian' is configured" in unknown.output


def test_a_malformed_query_is_a_configuration_error(sqlite_url: str, tmp_path: Path) -> None:
    env = {"SENTPIPE_DATABASE_URL": sqlite_url}
    result = invoke("-c", _config(tmp_path, "tesla AND (model"), "topics", "list", env=env)
    assert result.exit_code == 2
    assert 'topic "tesla"' in result.output and "position" in result.output


def test_redacting_an_event_drops_its_links(any_db_url: str) -> None:
    from sentiment_pipeline.refresh.store import open_store
    from sentiment_pipeline.sources import source_spec

    _stored(any_db_url, TOPICS, HISTORY[:2])
    url = parse_database_url(any_db_url)
    key: tuple[str, Any] = HISTORY[0].key
    if url.backend == "sqlite":  # the SQLite store's keys are its stored text
        key = (key[0], storage_text(key[1]))
    store = open_store(url, source_spec("reddit"))
    try:
        store.redact([key])
    finally:
        store.close()
    assert _rows(any_db_url) == {("t1_2", "tesla", "post"), ("t1_2", "cars", "text")}


def test_the_servers_prefilter_is_never_narrower_than_the_matcher(any_db_url: str) -> None:
    """PostgreSQL tests the literals itself (`~*` folds ASCII only): texts beyond ASCII
    still reach the matcher, so case and Unicode folding find what they find in Python."""
    topics = {
        "cafe": TopicSettings(query="café OR strasse"),
        "tesla": TopicSettings(query="TESLA"),
    }
    batch = [
        post(1, "CAFÉ AU LAIT"),
        post(2, "Die Straße"),
        post(3, "my TeSlA"),
        post(4, "Cafe without accent"),
        comment(5, "cafe\u0301 with a combining accent", link=4),
    ]
    _stored(any_db_url, {}, batch)
    match_topics(parse_database_url(any_db_url), topics_from(topics))
    assert _rows(any_db_url) == links_of(tagger(topics).links(batch))
    assert {row[0] for row in _rows(any_db_url)} == {"t3_1", "t3_2", "t3_3", "t1_5"}


def test_an_edit_refresh_applies_is_linked_again(fake_reddit: Any, tmp_path: Path) -> None:
    from sentiment_pipeline.refresh import RefreshOptions, refresh_reddit
    from tests.test_refresh import all_due, db_url, scraped, settings_for

    settings = settings_for(
        fake_reddit, tmp_path, topics={"zb": TopicSettings(query="zorblat OR quuxle")}
    )
    scraped(fake_reddit, settings)
    url = db_url(settings)
    comment = next(r.id for r in stored_rows(url) if r.event_type == "comment")
    assert all(row[0] != comment for row in _rows(url))
    fake_reddit.edit(comment, "now this is about Zorblat")
    result = refresh_reddit(all_due(settings), RefreshOptions())
    assert result.exit_code == 0 and result.report.edits == 1, result.errors
    assert (comment, "zb", "text") in _rows(url)


def test_a_window_matched_alone_says_so_and_inside_history_keeps_it_whole(
    sqlite_url: str,
) -> None:
    url = parse_database_url(sqlite_url)
    _stored(sqlite_url, {}, HISTORY)
    since = event(5).occurred_at
    match_topics(url, topics_from(TOPICS), since=since)
    state = {item.name: item.state for item in list_topics(url, topics_from(TOPICS))}
    assert state["tesla"] == f"matched since {since:%Y-%m-%d %H:%M}Z only"
    whole = match_topics(url, topics_from(TOPICS))  # the window is not all history
    assert whole.topics["tesla"].status == "matched" and whole.scanned == len(HISTORY)
    assert _rows(sqlite_url) == links_of(tagger().links(HISTORY))
    match_topics(url, topics_from(TOPICS), since=since)  # inside: still all history
    state = {item.name: item.state for item in list_topics(url, topics_from(TOPICS))}
    assert state["tesla"].startswith("history matched ")
    assert match_topics(url, topics_from(TOPICS)).topics["tesla"].status == "up to date"


@pytest.mark.parametrize(
    ("environment", "reason"),
    [
        ('{"tesla": {"query": "tesla"', "SENTPIPE_TOPICS is not JSON"),
        ("tesla", "SENTPIPE_TOPICS is not JSON"),
        ('{"tesla": "tesla OR ford"}', "topic tesla must be a mapping of `query:`"),
        ('{"tesla": {"querry": "tesla"}}', "unknown key `querry` in topic tesla"),
        ('{"tesla": {"query": "(tesla"}}', 'topic "tesla": unclosed "("'),
    ],
)
def test_topics_from_the_environment_are_checked(
    environment: str, reason: str, sqlite_url: str
) -> None:
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_TOPICS": environment}
    result = invoke("stats", env=env)
    assert result.exit_code == 2, result.output
    assert reason in result.output and len(result.output.strip().splitlines()) <= 2


def test_an_empty_topics_setting_means_none(sqlite_url: str, tmp_path: Path) -> None:
    config = tmp_path / "empty.yml"
    config.write_text("topics:\n", encoding="utf-8")
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_TOPICS": ""}
    shown = invoke("-c", str(config), "config", "show", "--json", env=env)
    assert shown.exit_code == 0 and '"topics": {' in shown.output
    typo = tmp_path / "typo.yml"
    typo.write_text("topics:\n  tesla:\n    querry: tesla\n", encoding="utf-8")
    result = invoke("-c", str(typo), "topics", "list", env=env)
    assert result.exit_code == 2 and "(did you mean `query`?)" in result.output


def test_topics_match_leaves_the_csv_link_files_equal_to_the_database(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Links the new query no longer makes leave the CSV files too; new ones arrive."""
    init_db(parse_database_url(sqlite_url))
    csv_dir = tmp_path / "csv"
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_CSV_DIR": str(csv_dir)}
    old = _config(tmp_path, "tesla")
    lines = "\n".join(json.dumps(e.to_record()) for e in HISTORY) + "\n"
    source = tmp_path / "history.ndjson"
    source.write_text(lines, encoding="utf-8")
    assert invoke("-c", old, "ingest", "ndjson", str(source), env=env).exit_code == 0
    before = {(r[0], r[3]) for rows in _link_files(csv_dir).values() for r in rows[1:]}
    assert ("t3_3", "text") in before  # "Nikola Tesla biography"
    new = tmp_path / "new.yml"
    new.write_text(
        'topics:\n  tesla:\n    query: \'(tesla OR "model 3") NOT "nikola tesla"\'\n',
        encoding="utf-8",
    )
    matched = invoke("-c", str(new), "topics", "match", "--json", env=env)
    assert matched.exit_code == 0, matched.output
    assert json.loads(matched.output)["csv_files"] == 1
    after = {(r[0], r[3]) for rows in _link_files(csv_dir).values() for r in rows[1:]}
    assert after == {(i, via) for i, _, via in _rows(sqlite_url)}
    assert ("t3_3", "text") not in after and ("t1_6", "text") in after
