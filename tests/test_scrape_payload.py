"""Reddit item -> event record: the captured JSON Reddit sent, or the fallback conversion.

End-to-end comparisons against everything the fake serves are in test_scrape_sent_json.py.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpraw
import pytest

from sentiment_pipeline.dto import Rejected, validate_record
from sentiment_pipeline.fake_reddit import RunningFakeReddit, parse_value
from sentiment_pipeline.sources.reddit.payload import (
    comment_record,
    jsonable,
    reddit_payload,
    submission_record,
)
from sentiment_pipeline.sources.reddit.raw import (
    RAW_ATTRIBUTE,
    capture_raw_json,
    plain_copy,
    raw_json,
)
from tests.fixtures.fake_reddit import FakeRedditFactory


class Named:
    """Stands in for asyncpraw's Redditor / Subreddit: str() is the name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name


class Item:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def submission(**fields: Any) -> Item:
    base: dict[str, Any] = {
        "_reddit": object(),
        "_fetched": False,
        "comment_limit": 2048,
        "comment_sort": "confidence",
        "id": "abc1234",
        "title": "hello",
        "selftext": "[removed]",
        "author": Named("someone"),
        "subreddit": Named("Python"),
        "created_utc": 1_700_000_000.5,
        "edited": 1_700_000_100.25,
        "num_comments": 3,
        "over_18": False,
    }
    base.update(fields)
    return Item(**base)


def test_submission_keeps_reddit_fields_and_drops_asyncpraw_internals() -> None:
    record = submission_record(submission(), "python")
    assert not isinstance(record, Rejected)
    assert record["id"] == "t3_abc1234"
    assert record["event_type"] == "submission"
    assert record["source"] == "reddit"
    assert record["source_id"] == "python"
    assert record["occurred_at"] == 1_700_000_000.5
    payload = record["payload"]
    assert payload["author"] == "someone"
    assert payload["subreddit"] == "Python"
    assert payload["edited"] == 1_700_000_100.25
    assert payload["selftext"] == "[removed]"
    assert not {"_reddit", "_fetched", "comment_limit", "comment_sort"} & payload.keys()
    json.dumps(payload, allow_nan=False)
    assert not isinstance(validate_record(record), Rejected)


def test_deleted_author_and_missing_optional_fields_are_kept() -> None:
    item = submission(author=None)
    del item.__dict__["selftext"], item.__dict__["edited"]
    record = submission_record(item, "python")
    assert not isinstance(record, Rejected)
    assert record["payload"]["author"] == "[deleted]"
    assert "selftext" not in record["payload"]


def test_non_json_values_become_strings() -> None:
    payload = reddit_payload(
        submission(score=float("nan"), poll=Named("poll"), media={"a": (1, 2), 3: {4}})
    )
    assert payload["score"] == "nan"
    assert payload["poll"] == "poll"
    assert payload["media"] == {"a": [1, 2], "3": [4]}
    json.dumps(payload, allow_nan=False)


def test_deep_nesting_is_cut_not_recursed_forever() -> None:
    value: Any = "leaf"
    for _ in range(100):
        value = [value]
    assert isinstance(json.dumps(jsonable(value)), str)


def test_item_without_id_is_rejected_not_raised() -> None:
    item = submission()
    del item.__dict__["id"]
    record = submission_record(item, "python")
    assert isinstance(record, Rejected)
    assert record.record["source_id"] == "python"
    assert "submission" in record.reason


def test_missing_created_utc_is_dead_lettered_by_validation() -> None:
    item = submission()
    del item.__dict__["created_utc"]
    record = submission_record(item, "python")
    assert not isinstance(record, Rejected)
    assert isinstance(validate_record(record), Rejected)


def test_comment_keeps_parent_link_and_depth() -> None:
    comment = Item(
        _replies=object(),
        _submission=object(),
        id="c1",
        body="[deleted]",
        author=None,
        parent_id="t1_c0",
        link_id="t3_abc1234",
        created_utc=1_700_000_200.0,
        depth=2,
    )
    record = comment_record(comment, "python")
    assert not isinstance(record, Rejected)
    assert record["id"] == "t1_c1"
    assert record["event_type"] == "comment"
    payload = record["payload"]
    assert (payload["parent_id"], payload["link_id"], payload["depth"]) == (
        "t1_c0",
        "t3_abc1234",
        2,
    )
    assert payload["author"] == "[deleted]"
    assert "_replies" not in payload


def test_comment_depth_is_filled_in_when_reddit_omits_it() -> None:
    record = comment_record(Item(id="c2", created_utc=1.0), "python", depth=3)
    assert not isinstance(record, Rejected)
    assert record["payload"]["depth"] == 3
    assert record["payload"]["parent_id"] is None


# --- the captured JSON --------------------------------------------------------------


def test_plain_copy_drops_replies_and_shares_nothing() -> None:
    data: dict[str, Any] = {
        "id": "c1",
        "replies": {"kind": "Listing", "data": {"children": []}},
        "all_awardings": [{"resized_icons": [{"url": "u", "width": 16, "height": 16}]}],
        "title": "half \ud83d",
    }
    copied = plain_copy(data)
    assert "replies" not in copied and "replies" in data
    data["all_awardings"][0]["resized_icons"][0]["width"] = 99
    assert copied["all_awardings"][0]["resized_icons"][0]["width"] == 16
    assert copied["title"] == "half \ud83d"


def test_captured_json_wins_over_attributes() -> None:
    sent = {"id": "p1", "author": "[deleted]", "poll_data": {"total_vote_count": 3}}
    item = submission(author=None, poll_data=Named("PollData object"))
    item.__dict__[RAW_ATTRIBUTE] = sent
    record = submission_record(item, "python")
    assert not isinstance(record, Rejected)
    assert record["payload"] == sent and record["id"] == "t3_p1"
    comment = Item(id="c3", created_utc=1.0, **{RAW_ATTRIBUTE: {"id": "c3", "created_utc": 1.0}})
    made = comment_record(comment, "python", depth=2)
    assert not isinstance(made, Rejected)
    assert made["payload"] == {"id": "c3", "created_utc": 1.0}  # nothing added


@pytest.mark.asyncio
async def test_asyncpraw_items_carry_the_json_they_were_built_from(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake: RunningFakeReddit = fake_reddit_factory(
        subreddits=(parse_value("rich", "30,rich,comments:14"),)
    )
    reddit = asyncpraw.Reddit(**fake.reddit_kwargs())
    capture_raw_json(reddit)
    try:
        subreddit = await reddit.subreddit("rich")
        posts = [post async for post in subreddit.new(limit=None)]
        poll = next(post for post in posts if "poll_data" in vars(post))
        busiest = max(posts, key=lambda post: post.num_comments)
        submission = await reddit.submission(busiest.id)
        await submission.comments.replace_more(limit=None)
        comments = submission.comments.list()
    finally:
        await reddit.close()
    assert all(raw_json(post) is not None for post in posts)
    sent = raw_json(poll)
    assert sent is not None and isinstance(sent["poll_data"], dict)
    assert type(poll.poll_data).__name__ == "PollData"
    assert sent["author"] == str(poll.author) and sent["subreddit"] == "rich"
    poll.title = "changed after the fact"
    assert reddit_payload(poll)["title"] == "Which editor do you use?"
    assert fake.count(route="morechildren") and fake.count(route="continue_thread")
    assert len(comments) == busiest.num_comments
    for comment in comments:
        raw = raw_json(comment)
        assert raw is not None and "replies" not in raw
        assert raw["id"] == comment.id and raw["parent_id"] == comment.parent_id
