"""Unit tests of the pure Reddit item -> event record conversion, with ugly data."""

from __future__ import annotations

import json
from typing import Any

from sentiment_pipeline.dto import Rejected, validate_record
from sentiment_pipeline.sources.reddit.payload import (
    comment_record,
    jsonable,
    reddit_payload,
    submission_record,
)


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
