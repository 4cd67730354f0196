"""Topics in `scrape reddit`: posts from Reddit's search down to each topic's own mark,
their comment trees on first sight, scope subreddits polled like targets, the cap
warning, and the `--topic` / `--topics-only` flags. Through the real client against the
fake Reddit on loopback."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.db.queries import read_marks
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.errors import ExitCode
from sentiment_pipeline.fake_reddit import RunningFakeReddit, SubredditSpec
from sentiment_pipeline.scrape import (
    RedditScrapeOptions,
    ScrapeResult,
    TargetOverrides,
    resolve_targets,
    scrape_reddit,
)
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.sources.reddit.spec import MARKS
from sentiment_pipeline.sources.topic import topics_from
from tests.fixtures.cli import invoke
from tests.test_fault_matrix import db_ids
from tests.test_scrape import FakeFactory, fake_env, scrape_settings

WORD = "zorblat"  # no generated text uses it
NEAR: set[str] = set()  # the near misses `plant` made (fullnames are unique)


def two_subreddits(factory: FakeFactory, **config: Any) -> RunningFakeReddit:
    return factory(
        subreddits=(
            SubredditSpec("alpha", posts=60, seed=1, comments_per_post=3),
            SubredditSpec("beta", posts=60, seed=2, comments_per_post=3),
        ),
        **config,
    )


def plant(fake: RunningFakeReddit, subreddit: str, every: int = 5) -> set[str]:
    """Give every `every`-th post of `subreddit` a title naming WORD, and the post after
    each a near miss ("zorblats": the fake's search finds it, the topic does not; kept
    in NEAR)."""
    posts = [name for name, sub, _ in fake.created() if name.startswith("t3_") and sub == subreddit]
    planted = set()
    for index, post in enumerate(posts):
        if index % every == 0:
            fake.edit(post, "some text", title=f"{WORD.title()} news {index}")
            planted.add(post)
        elif index % every == 1:
            fake.edit(post, "some text", title=f"two {WORD}s {index}")
            NEAR.add(post)
    return planted


def add_planted(fake: RunningFakeReddit, subreddit: str, count: int) -> set[str]:
    """New posts (newer than every other) naming WORD."""
    names = {f"t3_{i.removeprefix('t3_')}" for i in fake.add_posts(subreddit, count)}
    for name in names:
        fake.edit(name, "fresh", title=f"a {WORD} arrives")
    return names


def topic_settings(
    fake: RunningFakeReddit, tmp_path: Path, *, scope: list[str] | None = None, **values: Any
) -> Settings:
    topic: dict[str, Any] = {"query": f"{WORD} NOT nikola"}
    if scope is not None:
        topic["subreddits"] = scope
    return scrape_settings(fake, tmp_path, topics={"zb": topic}, **values)


def scrape(settings: Settings, *, topics_only: bool = True, **options: Any) -> ScrapeResult:
    topics = topics_from(settings.topics)
    targets = resolve_targets(
        settings.subreddits, [], TargetOverrides(), topics=topics, topics_only=topics_only
    )
    return scrape_reddit(settings, targets, RedditScrapeOptions(**options))


def search_mark(url: str, name: str = "zb") -> datetime | None:
    return read_marks(parse_database_url(url), MARKS).latest.get((f"topic:{name}", "search"))


def stored_posts(url: str) -> set[str]:
    return {i for i in db_ids(url) if i.startswith("t3_")}


def newest_time(fake: RunningFakeReddit, names: set[str]) -> datetime:
    times = [created for name, _, created in fake.created() if name in names]
    return datetime.fromtimestamp(max(times), UTC)


@pytest.mark.parametrize("backend", ["sqlite", "timescale", "postgres"])
def test_a_topic_reads_its_search_down_to_its_own_mark(
    backend: str, fake_reddit_factory: FakeFactory, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    fake = two_subreddits(fake_reddit_factory)
    planted = plant(fake, "alpha") | plant(fake, "beta")
    url = str(request.getfixturevalue(f"{backend}_url"))
    settings = topic_settings(fake, tmp_path, database_url=url)
    first = scrape(settings)
    assert first.exit_code == ExitCode.OK, first.errors
    stats = first.report.topics["zb"]
    assert stored_posts(url) == planted  # the near misses were found, not kept
    assert stats.found == 2 * len(planted) and stats.submissions == stats.new == len(planted)
    assert fake.count(route="search") == math.ceil(stats.found / 100)
    assert fake.count(route="comments") == stats.comment_trees == len(planted)  # first sight
    assert first.report.subreddits == {}  # no target: nothing else polled
    # the newest result (a near miss too), by Reddit's clock
    assert search_mark(url) == newest_time(fake, planted | NEAR)
    assert first.extra["topics"]["zb"]["mark"] == search_mark(url).isoformat()

    fake.clear_log()
    fresh = add_planted(fake, "beta", 3)
    second = scrape(settings)
    stats = second.report.topics["zb"]
    assert fake.count(route="search") == 1  # down to the mark: one page
    assert stats.new == 3 and stats.submissions - 3 <= 1  # + the overlap's: stored already
    assert fake.count(route="comments") == 3  # only the new posts' trees
    assert stored_posts(url) == planted | fresh
    assert search_mark(url) == newest_time(fake, fresh)
    assert not stats.capped and second.warnings == []


def test_a_scoped_topic_polls_its_scope_and_searches_only_there(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = two_subreddits(fake_reddit_factory)
    planted = plant(fake, "alpha")
    plant(fake, "beta")
    settings = topic_settings(fake, tmp_path, scope=["Alpha"])
    result = scrape(settings)
    assert result.exit_code == ExitCode.OK, result.errors
    assert list(result.report.subreddits) == ["alpha"]  # the scope, polled like a target
    assert fake.count(route="listing", member="alpha") >= 1
    assert fake.count(member="beta") == 0
    searches = [e for e in fake.request_log if e["route"] == "search"]
    assert searches and all(e["members"] == ["alpha"] for e in searches)
    url = str(settings.database.sqlalchemy)
    stored = stored_posts(url)
    assert planted <= stored and len(stored) == 60  # the listing brought every post
    # the listing's first-run trees covered the search results: none fetched twice
    trees = [e for e in fake.request_log if e["route"] == "comments"]
    assert len(trees) == len({e["path"] for e in trees}) == 60
    assert result.report.topics["zb"].comment_trees == 0


def test_topics_only_skips_the_configured_subreddits(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = two_subreddits(fake_reddit_factory)
    plant(fake, "alpha")
    config = tmp_path / "sentpipe.yaml"
    config.write_text(
        "subreddits:\n  - name: beta\ntopics:\n  zb:\n    query: zorblat\n"
        "    subreddits: [alpha]\n",
        encoding="utf-8",
    )
    env = fake_env(fake, tmp_path)
    only = invoke("--config", str(config), "scrape", "reddit", "--topics-only", "--json", env=env)
    assert only.exit_code == 0, only.output
    data = json.loads(only.stdout)
    assert list(data["extra"]["subreddits"]) == ["alpha"]
    assert data["extra"]["topics"]["zb"]["posts"] == 12
    assert fake.count(member="beta") == 0
    both = invoke("--config", str(config), "scrape", "reddit", env=env)
    assert both.exit_code == 0, both.output
    assert fake.count(route="listing", member="beta") >= 1
    # the second run reads only down to the first one's mark
    assert re.search(r"topic zb: \d posts \(0 new\), 1 requests", both.output), both.output


def test_the_topic_flag_alone_needs_no_subreddit(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = two_subreddits(fake_reddit_factory)
    planted = plant(fake, "beta")
    env = fake_env(fake, tmp_path)
    result = invoke("scrape", "reddit", "--topic", f"zb={WORD}", env=env)
    assert result.exit_code == 0, result.output
    assert f"topic zb: {len(planted)} posts ({len(planted)} new), " in result.output
    assert fake.count(route="listing") == 0


def test_the_cap_before_the_mark_is_warned_about(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = two_subreddits(fake_reddit_factory, search_cap=20)
    plant(fake, "alpha", every=10)  # 6 posts and 6 near misses: under the cap
    settings = topic_settings(fake, tmp_path)
    first = scrape(settings)
    assert first.warnings == [] and not first.report.topics["zb"].capped
    before = search_mark(str(settings.database.sqlalchemy))
    assert before is not None
    add_planted(fake, "beta", 25)  # more than the cap above the mark
    second = scrape(settings, max_requests=None)
    stats = second.report.topics["zb"]
    assert stats.capped and stats.found == 20
    assert second.warnings == [
        "topic zb: Reddit's search stopped at 20 results before the last run's mark "
        f"({before:%Y-%m-%d %H:%M} UTC); posts between are missed (a dump can fill them, "
        "docs/topics.md)"
    ]
    assert second.extra["topics"]["zb"]["capped"] is True


def test_a_first_run_that_reads_the_whole_cap_is_warned_about(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = two_subreddits(fake_reddit_factory, search_cap=20)
    plant(fake, "alpha", every=2)  # 30 posts and 30 near misses
    result = scrape(topic_settings(fake, tmp_path), listing_cap=20)
    assert result.report.topics["zb"].capped
    assert [w.split(" (")[0] for w in result.warnings] == [
        "topic zb: Reddit's search stopped at 20 results"
    ]


@pytest.mark.parametrize(
    ("flag", "said"),
    [
        ("zb=zorblat AND", "position"),
        ("zb=(zorblat", "position"),
        ("zorblat", "NAME=QUERY"),
        ("=zorblat", "NAME=QUERY"),
        ("Bad Name=zorblat", "topic name"),
        ("zb=NOT zorblat", "add a scope"),
    ],
)
def test_a_bad_topic_flag_is_a_usage_error(
    flag: str, said: str, fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path)
    result = invoke("scrape", "reddit", "--topic", flag, env=env)
    assert result.exit_code == 2, result.output
    assert said.lower() in result.output.lower()
    assert fake_reddit.count() == 0  # refused before any request


def test_subreddit_and_topics_only_conflict(tmp_path: Path) -> None:
    env = {"SENTPIPE_DATA_DIR": str(tmp_path)}
    result = invoke("scrape", "reddit", "-s", "x", "--topic", "a=b", "--topics-only", env=env)
    assert result.exit_code == 2 and "--topics-only" in result.output


def test_a_scoped_topic_reddit_cannot_search_takes_its_posts_from_the_scope(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = two_subreddits(fake_reddit_factory)
    settings = scrape_settings(
        fake, tmp_path, topics={"quiet": {"query": "NOT zorblat", "subreddits": ["beta"]}}
    )
    result = scrape(settings)
    assert result.exit_code == ExitCode.OK, result.errors
    assert fake.count(route="search") == 0 and list(result.report.subreddits) == ["beta"]
    assert result.extra["topics"]["quiet"]["search"] == "scope"


def test_metrics_carry_the_topics(fake_reddit_factory: FakeFactory, tmp_path: Path) -> None:
    from sentiment_pipeline.service.metrics import RunMetrics, figures_from_run, render_metrics

    fake = two_subreddits(fake_reddit_factory)
    plant(fake, "alpha")
    result = scrape(topic_settings(fake, tmp_path))
    text = render_metrics(RunMetrics("scrape", 0.0, 1.0, 0, figures_from_run(result))).decode()
    assert 'sentpipe_topic_search_posts{command="scrape",topic="zb"} 12.0' in text
    assert 'sentpipe_topic_search_requests{command="scrape",topic="zb"}' in text
    assert 'sentpipe_topic_search_capped{command="scrape",topic="zb"} 0.0' in text


def _links(url: str) -> set[tuple[str, str, str]]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, topic, via FROM event_topics")).fetchall()
    finally:
        engine.dispose()
    return {(str(row[0]), str(row[1]), str(row[2])) for row in rows}


@pytest.mark.parametrize("backend", ["sqlite", "timescale"])
def test_what_a_scrape_stores_is_linked_to_its_topics(
    backend: str, fake_reddit_factory: FakeFactory, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A scoped topic's posts link by text and their comments by post; one comment
    whose own text names two topics links to both by text, in the same pass."""
    fake = two_subreddits(fake_reddit_factory)
    planted = plant(fake, "alpha")
    both = next(n for n, sub, _ in fake.created() if n.startswith("t1_") and sub == "alpha")
    fake.edit(both, f"{WORD} and quuxle, both")
    url = str(request.getfixturevalue(f"{backend}_url"))
    settings = scrape_settings(
        fake,
        tmp_path,
        database_url=url,
        topics={
            "zb": {"query": WORD, "subreddits": ["alpha"]},
            "qx": {"query": "quuxle", "subreddits": ["alpha"]},
        },
    )
    result = scrape(settings)
    assert result.exit_code == ExitCode.OK, result.errors
    links = _links(url)
    assert {(p, "zb", "text") for p in planted} <= links
    assert (both, "zb", "text") in links and (both, "qx", "text") in links
    by_post = {i for i, topic, via in links if topic == "zb" and via == "post"}
    assert by_post and all(i.startswith("t1_") for i in by_post)
    assert not {i for i, topic, _ in links if topic == "qx"} - {both}
    counts = result.topic_links
    assert counts["qx"] == {"text": 1} and counts["zb"]["post"] == len(by_post)


def test_a_topic_flag_may_not_redefine_a_configured_topic(tmp_path: Path) -> None:
    from sentiment_pipeline.scrape import with_topic_flags
    from sentiment_pipeline.settings import load_settings

    config = tmp_path / "topics.yml"
    config.write_text(
        "topics:\n  love:\n    query: love NOT hate\n    subreddits: [cars]\n"
        "  plain:\n    query: plain\n",
        encoding="utf-8",
    )
    settings = load_settings(config, check_database=False)
    with pytest.raises(Exception, match="configured with another query or scope"):
        with_topic_flags(settings, ["love=love"])
    same = with_topic_flags(settings, ["plain=plain", "new=fresh"])
    assert set(same.topics) == {"love", "plain", "new"}
