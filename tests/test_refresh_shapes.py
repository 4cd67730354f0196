"""`sentpipe refresh reddit` over every stored shape: every removal placeholder Reddit
uses. Real asyncpraw against the fake API, real databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.refresh import refresh_reddit
from sentiment_pipeline.refresh.observe import observe
from sentiment_pipeline.refresh.observe import text_hash as hash_of
from sentiment_pipeline.sentiment import ScoreOptions, score_events
from sentiment_pipeline.sentiment.clean import event_text
from sentiment_pipeline.sinks import build_sinks
from sentiment_pipeline.sources.reddit.removed import PLACEHOLDERS
from tests.fixtures.events import event, stored_rows
from tests.test_refresh import ALL_DUE, query, settings_for
from tests.test_scrape import init_db

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
        assert event_text("comment", None, None, text) is None
    else:
        assert event_text("submission", text if key == "title" else "", text, None) is None


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
    assert (event_text("comment", None, None, text) is None) == (text == "")


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
    result = refresh_reddit(settings, ALL_DUE)
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
