"""`scrape reddit` stores, for every item, the JSON object Reddit sent (less `replies`).

The fake keeps the text of every answer it sends (`keep_bodies`); each test walks those
answers for `t3`/`t1` things and compares them with the payloads read back from the
database after a real `sentpipe scrape reddit` run: listings, comment trees,
"continue this thread" answers and /api/morechildren alike.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sentiment_pipeline.cli import app
from sentiment_pipeline.fake_reddit import (
    FakeRedditConfig,
    RunningFakeReddit,
    SubredditSpec,
    fixture_config,
    parse_value,
)
from sentiment_pipeline.fake_reddit.hostile import LONE_SURROGATE_TITLE
from tests.fixtures.fake_reddit import FakeRedditFactory
from tests.test_scrape import fake_env

runner = CliRunner()
CASE_09 = Path(__file__).parent / "data" / "cases" / "09-poll-post" / "poll-post.json"
REPLACEMENT = "\ufffd"


def config(*specs: SubredditSpec) -> FakeRedditConfig:
    return fixture_config(subreddits=specs, keep_bodies=True)


def rich_sub() -> SubredditSpec:
    """The poll, gallery and crosspost posts among generated ones with deep trees."""
    spec = parse_value("rich", "40,rich,seed:7,comments:14")
    assert spec.rich and not spec.hostile
    return spec


def served_items(bodies: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every `t3`/`t1` thing in the answers, by fullname: its `data` less `replies`."""
    found: dict[str, list[dict[str, Any]]] = {}
    for body in bodies:  # in the order they were sent
        stack: list[Any] = [json.loads(body)]
        while stack:
            value = stack.pop()
            if isinstance(value, list):
                stack.extend(reversed(value))
            elif isinstance(value, dict):
                data = value.get("data")
                if value.get("kind") in ("t1", "t3") and isinstance(data, dict):
                    sent = {key: item for key, item in data.items() if key != "replies"}
                    versions = found.setdefault(str(data["name"]), [])
                    if sent not in versions:
                        versions.append(sent)
                stack.extend(reversed(value.values()))
    return found


def first_served(fake: RunningFakeReddit) -> dict[str, dict[str, Any]]:
    """The first version of each item sent (a "continue this thread" answer resends
    the parent comment with `depth` 0; asyncpraw keeps the first one in the forest)."""
    by_name = served_items(fake.response_bodies)
    assert by_name, "the fake kept no answers"
    return {name: versions[0] for name, versions in by_name.items()}


def cleaned(value: Any) -> Any:
    """The documented ingest cleaning: lone surrogates and NUL become U+FFFD."""
    if isinstance(value, str):
        return "".join(
            REPLACEMENT if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in value
        )
    if isinstance(value, dict):
        return {cleaned(key): cleaned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cleaned(item) for item in value]
    return value


def scrape(env: dict[str, str], subreddit: str) -> None:
    result = runner.invoke(app, ["scrape", "reddit", "-s", subreddit], env=env)
    assert result.exit_code == 0, result.output


def sqlite_payloads(path: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT id, payload FROM raw_events").fetchall()
    return {ident: json.loads(payload) for ident, payload in found}


def server_payloads(url: str) -> dict[str, dict[str, Any]]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as db:
            found = db.execute(sqlalchemy.text("SELECT id, payload FROM raw_events")).all()
    finally:
        engine.dispose()
    return {ident: payload for ident, payload in found}


def assert_stored_as_sent(
    stored: dict[str, dict[str, Any]], sent: dict[str, dict[str, Any]]
) -> None:
    assert stored.keys() == sent.keys()
    differing = sorted(name for name in sent if stored[name] != sent[name])
    assert not differing, (differing[:5], stored[differing[0]], sent[differing[0]])


def assert_paths_covered(fake: RunningFakeReddit) -> None:
    """Every way asyncpraw builds comments was taken, so none escapes the comparison."""
    for route in ("listing", "comments", "continue_thread", "morechildren"):
        assert fake.count(route=route, status=200) > 0, route


def test_every_item_is_stored_as_the_json_reddit_sent_on_sqlite(
    fake_reddit_factory: FakeRedditFactory, tmp_path: Path
) -> None:
    fake = fake_reddit_factory(config(rich_sub()))
    env = fake_env(fake, tmp_path)
    scrape(env, "rich")
    assert_paths_covered(fake)
    sent = first_served(fake)
    stored = sqlite_payloads(tmp_path / "sentpipe.db")
    assert_stored_as_sent(stored, sent)
    assert "[deleted]" in {payload.get("author") for payload in stored.values()}
    assert sum(name.startswith("t1_") for name in stored) > 100
    scrape(env, "rich")  # a second run over the same posts is fine too


def test_every_item_is_stored_as_the_json_reddit_sent_on_timescaledb(
    fake_reddit_factory: FakeRedditFactory, tmp_path: Path, timescale_url: str
) -> None:
    fake = fake_reddit_factory(config(rich_sub()))
    env = fake_env(fake, tmp_path, database_url=timescale_url)
    scrape(env, "rich")
    assert_paths_covered(fake)
    assert_stored_as_sent(server_payloads(timescale_url), first_served(fake))
    scrape(env, "rich")


def test_poll_gallery_and_crosspost_keep_the_objects_reddit_sent(
    fake_reddit_factory: FakeRedditFactory, tmp_path: Path
) -> None:
    fake = fake_reddit_factory(config(rich_sub()))
    env = fake_env(fake, tmp_path)
    scrape(env, "rich")
    scrape(env, "rich")
    posts = {
        payload["title"]: payload
        for ident, payload in sqlite_payloads(tmp_path / "sentpipe.db").items()
        if ident.startswith("t3_")
    }
    case = json.loads(CASE_09.read_text(encoding="utf-8"))
    poll = posts[case["title"]]
    assert poll["poll_data"] == case["poll_data"]
    assert [option["vote_count"] for option in poll["poll_data"]["options"]] == [40, 35]
    gallery = posts["Gallery of two pictures"]
    media = [item["media_id"] for item in gallery["gallery_data"]["items"]]
    assert sorted(media) == sorted(gallery["media_metadata"])
    assert all(gallery["media_metadata"][m]["s"]["u"].startswith("https://") for m in media)
    crosspost = next(p for p in posts.values() if "crosspost_parent_list" in p)
    parent = crosspost["crosspost_parent_list"][0]
    assert parent["name"] == crosspost["crosspost_parent"]
    assert parent["author"] == "original_poster"
    assert parent["all_awardings"][0]["resized_icons"][0]["width"] == 16
    link = posts["Link post with a preview, awards and flair"]
    assert link["preview"]["images"][0]["source"]["width"] == 1200
    assert link["author_flair_richtext"][0]["e"] == "emoji"
    text = json.dumps(posts, ensure_ascii=False)
    assert " object at 0x" not in text and "<asyncpraw" not in text


@pytest.mark.parametrize("backend", ["sqlite", "timescale"])
def test_hostile_posts_are_stored_as_sent_after_cleaning_and_runs_exit_0(
    fake_reddit_factory: FakeRedditFactory,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    backend: str,
) -> None:
    """The lone-surrogate title (sent as the escape `\\ud83d`) is stored with U+FFFD."""
    fake = fake_reddit_factory(config(parse_value("hostile", "hostile")))
    url = None if backend == "sqlite" else str(request.getfixturevalue("timescale_url"))
    env = fake_env(fake, tmp_path, database_url=url)
    scrape(env, "hostile")
    assert any("\\ud83d" in body for body in fake.response_bodies)
    sent = first_served(fake)
    stored = sqlite_payloads(tmp_path / "sentpipe.db") if url is None else server_payloads(url)
    assert_stored_as_sent(stored, {name: cleaned(data) for name, data in sent.items()})
    titles = {payload.get("title") for payload in stored.values()}
    assert cleaned(LONE_SURROGATE_TITLE) in titles
    assert "Half an emoji \ufffd cut off \ufffd" in titles
    scrape(env, "hostile")  # the post is still in the overlap window: still exit 0
