"""The source contract: a source registered in-process flows through every stage.

A toy source "feed" (text in `payload.text`, container `feed_name`, its own payload keys
for the display columns) is registered here, and nothing in `sentiment/`, `export/` or
`stats.py` knows it: `ingest ndjson`, `sentiment score`, `sentiment report`,
`export csv`, `stats` and the metrics file all take it from the registry. Sources no
package registers follow the generic rule; a registered source without a text rule is
never claimed. Reddit's text rule is held to the rule it replaced.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.sentiment.clean import clean_text, event_text
from sentiment_pipeline.sentiment.run import ScoreOptions, score_events
from sentiment_pipeline.service.metrics import (
    RunMetrics,
    figures_from_run,
    parse_metrics,
    render_metrics,
)
from sentiment_pipeline.sources import (
    DisplayColumns,
    SourceSpec,
    generic_text,
    register,
    source_spec,
    unregister,
)
from sentiment_pipeline.sources.reddit.removed import PLACEHOLDERS, is_placeholder
from sentiment_pipeline.sources.reddit.text import reddit_text
from tests.fixtures.cli import invoke


def feed_text(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The toy source's text rule: `payload.text` (module level: workers import it)."""
    text = payload.get("text")
    return text if isinstance(text, str) and text else None


FEED = SourceSpec(
    name="feed",
    text_of=feed_text,
    text_keys=("text",),
    columns=DisplayColumns(
        author=("who",),
        title=("headline",),
        text=("text",),
        url=("link",),
        score=("votes",),
        parent=("reply_to",),
        container="feed_name",
    ),
    target_label="feed_name",
)
SILENT = SourceSpec(name="silent")  # a registered source with no text rule


@pytest.fixture
def toy_sources() -> Iterator[None]:
    register(FEED)
    register(SILENT)
    try:
        yield
    finally:
        unregister("feed")
        unregister("silent")


def _event(n: int, source: str, payload: dict[str, Any], source_id: str = "news") -> str:
    return json.dumps(
        {
            "id": f"{source}-{n}",
            "occurred_at": f"2024-03-0{n + 1}T10:00:00Z",
            "source": source,
            "source_id": source_id,
            "event_type": "entry",
            "payload": payload,
        }
    )


FEED_ENTRY = {
    "who": "ada",
    "headline": "Launch day",
    "text": "What a wonderful, great launch!",
    "link": "https://feed.example/1",
    "votes": 7,
    "reply_to": "feed-0",
    "feed_name": "Morning News",
}
LINES = [
    _event(1, "feed", FEED_ENTRY),
    _event(2, "feed", {"text": "This is awful and sad.", "feed_name": "Morning News"}),
    _event(3, "feed", {"headline": "no text here", "feed_name": "Morning News"}),
    _event(1, "other", {"text": "I love this so much"}, source_id="x"),
    _event(2, "other", {"title": "Bad news", "body": "terrible, horrible day"}, source_id="x"),
    _event(3, "other", {"author": "nobody", "score": 3}, source_id="x"),
    _event(1, "silent", {"text": "great, but never read"}, source_id="s"),
]


def _sentpipe(url: str, tmp_path: Path, *args: str) -> Any:
    env = {"SENTPIPE_DATABASE_URL": url, "SENTPIPE_DATA_DIR": str(tmp_path / "data")}
    return invoke(*args, env=env)


def _ingested(url: str, tmp_path: Path) -> None:
    assert _sentpipe(url, tmp_path, "db", "init").exit_code == 0
    source = tmp_path / "events.ndjson"
    source.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    metrics = tmp_path / "ingest.prom"
    args = ["ingest", "ndjson", str(source), "--sink", "database", "--metrics-file", str(metrics)]
    result = _sentpipe(url, tmp_path, *args)
    assert result.exit_code == 0, result.output
    samples = parse_metrics(metrics.read_text(encoding="utf-8"))
    command = ("command", "ingest_ndjson")
    assert samples[("sentpipe_run_events_inserted", (command,))] == len(LINES)
    news = ("sentpipe_source_id_events_inserted", (command, ("source_id", "news")))
    assert samples[news] == 3  # the feed's entries, under their own target


@pytest.mark.usefixtures("toy_sources")
def test_a_registered_source_flows_through_every_stage(any_db_url: str, tmp_path: Path) -> None:
    _ingested(any_db_url, tmp_path)

    scored = _sentpipe(any_db_url, tmp_path, "sentiment", "score", "--json")
    assert scored.exit_code == 0, scored.output
    run = json.loads(scored.output)
    # feed 1, 2 and other 1, 2 have text; feed 3 and other 3 have none; silent is left
    assert (run["scored"], run["skipped"], run["waiting"]) == (4, 2, 0)

    stats = _sentpipe(any_db_url, tmp_path, "stats", "--json")
    assert stats.exit_code == 0, stats.output
    figures = json.loads(stats.output)
    assert figures["by_source"] == {"feed": 3, "other": 3, "silent": 1}  # kept from NDJSON
    assert figures["not_scorable"] == {"feed": 1, "other": 1, "silent": 1}
    (model,) = figures["sentiment"]
    assert (model["scored"], model["skipped"], model["waiting"]) == (4, 0, 0)
    assert figures["processed"] == 6  # the silent source's event is never claimed
    text = _sentpipe(any_db_url, tmp_path, "stats")
    shown = " ".join(text.output.split())  # the table may wrap the line
    assert "4 scored, 3 not scorable (feed 1, other 1, silent 1), 0 waiting" in shown
    assert "skipped" not in shown

    report = _sentpipe(any_db_url, tmp_path, "sentiment", "report", "--json", "--bucket", "7d")
    assert report.exit_code == 0, report.output
    rows = json.loads(report.output)["rows"]
    assert {(r["source"], r["source_id"], r["events"]) for r in rows} == {
        ("feed", "news", 2),
        ("other", "x", 2),
    }

    columns = "id,author,title,text,permalink,score,parent_id,container,subreddit,url"
    exported = _sentpipe(any_db_url, tmp_path, "export", "csv", "-o", "-", "--columns", columns)
    assert exported.exit_code == 0, exported.output
    by_id = {row["id"]: row for row in csv.DictReader(io.StringIO(exported.output))}
    assert by_id["feed-1"] == {
        "id": "feed-1",
        "author": "ada",
        "title": "Launch day",
        "text": "What a wonderful, great launch!",
        "permalink": "https://feed.example/1",
        "score": "7",
        "parent_id": "feed-0",
        "container": "Morning News",
        "subreddit": "Morning News",
        "url": "",  # the payload's own `url` key, which this entry has not
    }
    # the generic rule: text, else body; no container
    assert by_id["other-2"]["text"] == "terrible, horrible day"
    assert by_id["other-2"]["title"] == "Bad news"
    assert by_id["other-3"]["author"] == "nobody" and by_id["other-3"]["score"] == "3"
    assert by_id["other-1"]["container"] == "" and by_id["other-1"]["subreddit"] == ""


def test_unregistered_sources_follow_the_generic_rule(any_db_url: str, tmp_path: Path) -> None:
    _ingested(any_db_url, tmp_path)  # nothing registered: feed and silent are generic too
    url = parse_database_url(any_db_url)
    done = score_events(url, ScoreOptions(), lock_path=tmp_path / "lock")
    # generic: feed 1, 2 (text), other 1 (text), other 2 (title + body), silent (text)
    assert (done.scored, done.skipped, done.waiting) == (5, 2, 0)
    figures = json.loads(_sentpipe(any_db_url, tmp_path, "stats", "--json").output)
    assert figures["not_scorable"] == {"feed": 1, "other": 1}  # feed 3 has only `headline`
    assert figures["sentiment"][0]["skipped"] == 0


@pytest.mark.usefixtures("toy_sources")
def test_worker_processes_see_the_sources_registered_in_process(
    postgres_url: str, tmp_path: Path
) -> None:
    _ingested(postgres_url, tmp_path)
    url = parse_database_url(postgres_url)
    done = score_events(url, ScoreOptions(workers=2, batch_size=1))
    assert (done.scored, done.skipped, done.waiting) == (4, 2, 0)  # silent: never claimed


def test_the_metrics_label_targets_by_the_sources_label() -> None:
    register(FEED)
    try:
        result = RunResult(fetched=2)
        result.counts_for("Morning News").fetched = 2
        figures = figures_from_run(result, source="feed")
        reddit = figures_from_run(result, source="reddit")
    finally:
        unregister("feed")
    samples = parse_metrics(render_metrics(RunMetrics("ingest", 1.0, 2.0, 0, figures)).decode())
    key = (
        "sentpipe_feed_name_events_fetched",
        (("command", "ingest"), ("feed_name", "Morning News")),
    )
    assert samples[key] == 2
    assert reddit.target_label == "subreddit"
    assert figures_from_run(result).target_label == "source_id"  # no single source


# --- the text rules ---------------------------------------------------------------------


def old_event_text(
    event_type: str, title: str | None, selftext: str | None, body: str | None
) -> str | None:
    """The scorer's rule before the source contract (sentiment/clean.py), kept here as the
    reference Reddit's text rule must equal."""

    def usable(text: str | None) -> str:
        return "" if not text or is_placeholder(text) else text

    comment = event_type == "comment" or body
    parts = [usable(body)] if comment else [usable(title), usable(selftext)]
    raw = "\n\n".join(part for part in parts if part)
    return (clean_text(raw) or None) if raw else None


TEXTS = [None, "", "  ", "fine day", "I **love** it [link](http://x.y)", *PLACEHOLDERS]
TEXTS += ["[ deleted ]", "[Removed by moderator.]", "> quoted only", "[deleted] lol"]


@pytest.mark.parametrize("event_type", ["submission", "comment", "other"])
@pytest.mark.parametrize("body", TEXTS)
@pytest.mark.parametrize("title", [None, "[deleted by user]", "A title"])
@pytest.mark.parametrize("selftext", [None, "[removed]", "some selftext"])
def test_reddit_text_equals_the_old_rule(
    event_type: str, body: str | None, title: str | None, selftext: str | None
) -> None:
    payload = {
        k: v for k, v in (("title", title), ("selftext", selftext), ("body", body)) if v is not None
    }
    assert event_text("reddit", event_type, payload) == old_event_text(
        event_type, title, selftext, body
    )


def test_reddit_text_takes_title_and_selftext_of_a_post_and_never_a_placeholder() -> None:
    post = {"title": "Great news", "selftext": "We did it"}
    assert reddit_text("submission", post) == "Great news\n\nWe did it"
    assert reddit_text("submission", {**post, "selftext": "[removed]"}) == "Great news"
    assert reddit_text("comment", {"body": "[deleted]"}) is None
    assert reddit_text("comment", {"body": 5}) is None  # not text
    assert source_spec("reddit").text_keys == ("title", "selftext", "body")


def test_the_generic_rule() -> None:
    assert generic_text("x", {"text": "hello", "title": "t", "body": "b"}) == "hello"
    assert generic_text("x", {"text": " ", "title": "t", "body": "b"}) == "t\n\nb"
    assert generic_text("x", {"body": "only body"}) == "only body"
    assert generic_text("x", {"title": 3, "score": 1}) is None
    spec = source_spec("never-registered")
    assert spec.text_of is generic_text and spec.columns.container is None
    assert spec.target_label == "source_id"


@pytest.mark.usefixtures("toy_sources")
def test_the_report_heads_its_targets_with_the_sources_label() -> None:
    from datetime import UTC, datetime

    from sentiment_pipeline.sentiment.report import ReportRow, SentimentReport

    def report(*sources: str) -> SentimentReport:
        moment = datetime(2026, 1, 1, tzinfo=UTC)
        rows = [ReportRow(s, "x", moment, 1, 0.0, 0.0, 1.0, 0.0) for s in sources]
        return SentimentReport(model="vader", bucket="1d", rows=rows)

    assert report("reddit").target_label() == "subreddit"
    assert report("feed").target_label() == "feed_name"
    assert report("reddit", "feed").target_label() == "source_id"
    assert report("unregistered").target_label() == "source_id"
