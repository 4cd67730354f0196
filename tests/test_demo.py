"""`sentpipe demo`: a fresh data dir, a real scrape against the bundled fake, twice."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentiment_pipeline.fake_reddit import text
from sentiment_pipeline.sentiment import label_for
from tests.fixtures.cli import invoke


def test_demo_on_a_fresh_machine_then_incremental(tmp_path: Path) -> None:
    env = {"SENTPIPE_DATA_DIR": str(tmp_path / "data"), "SENTPIPE_DATABASE_URL": ""}
    first = invoke("demo", "--json", env=env)
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    totals = {(t["source_id"], t["event_type"]): t["rows"] for t in data["totals"]}
    assert totals[("stocks", "submission")] == 300
    assert totals[("wallstreet", "comment")] > 1000
    assert sum(totals.values()) == data["inserted"]
    hn = data["hackernews"]
    hn_totals = {(t["source_id"], t["event_type"]): t["rows"] for t in data["hn_totals"]}
    assert hn_totals[("story", "story")] > 0 and hn_totals[("ask", "comment")] > 0
    assert sum(hn_totals.values()) == hn["inserted"] > 0
    assert set(hn["extra"]["targets"]) == {"list:top", "list:ask"}
    assert (tmp_path / "data" / "sentpipe.db").is_file()
    assert list((tmp_path / "data" / "csv" / "reddit").iterdir())
    assert list((tmp_path / "data" / "csv" / "hackernews").iterdir())

    scored = data["sentiment"]["score"]
    assert scored["scored"] > 5000 and scored["waiting"] == 0
    stored = data["inserted"] + hn["inserted"]
    assert scored["scored"] + scored["skipped"] == stored  # every event scored once
    report = data["sentiment"]["report"]
    assert report["version"] == 1 and report["bucket"] == "1d"
    rows = report["rows"]
    reddit = {row["source_id"] for row in rows if row["source"] == "reddit"}
    assert reddit == {"stocks", "wallstreet", "tiny", "hostile"}
    assert {row["source_id"] for row in rows if row["source"] == "hackernews"} >= {"story", "ask"}
    assert sum(row["events"] for row in rows) == scored["scored"]
    now = datetime.now(UTC)
    days = {datetime.fromisoformat(row["bucket_start"]) for row in rows}
    assert all(now - timedelta(days=6) < day <= now for day in days)  # dated near today
    assert len({row["bucket_start"] for row in rows if row["source_id"] == "stocks"}) >= 3
    assert all(
        row["positive"] > 0.1 and row["negative"] > 0.1 for row in rows if row["events"] > 100
    )

    second = invoke("demo", "--json", env=env)
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)
    assert again["inserted"] == 0
    # one token; the four subreddits in one group: one page of posts and two of comments
    # (the fake dates the young posts' comments at its start: 107 of them fall inside
    # the 30-second overlap below the comment marks, read again and found stored)
    assert again["extra"]["requests"]["total"] == 4
    (group,) = again["extra"]["groups"].values()
    assert group["members"] == ["hostile", "stocks", "tiny", "wallstreet"]
    assert again["hackernews"]["inserted"] == 0
    # nothing new on HN: one request per list (its ids, all stored)
    assert again["hackernews"]["extra"]["requests"]["total"] == 2
    assert again["sentiment"]["score"]["scored"] == 0
    assert again["sentiment"]["report"]["rows"] == rows  # same posts, same times, same scores


def test_demo_prints_a_summary(tmp_path: Path) -> None:
    result = invoke("demo", env={"SENTPIPE_DATA_DIR": str(tmp_path), "SENTPIPE_DATABASE_URL": ""})
    assert result.exit_code == 0, result.output
    assert "Reddit events" in result.output
    assert "r/tiny submissions: 5" in result.output
    tail = result.output[result.output.index("r/tiny submissions: 5") :]
    assert "Scored " in tail and "with vader-" in tail and "0 still waiting" in tail
    assert "Hacker News events" in result.output and "list:top: done" in result.output
    report = tail[tail.index("source\t") :].splitlines()  # not a terminal: one row per line
    # two sources: each row says its source before its source id
    assert report[0].split()[:4] == ["source", "source_id", "bucket_start", "events"]
    groups = {tuple(line.split()[:2]) for line in report[1:] if line[:1].islower()}
    assert {("reddit", name) for name in ("stocks", "wallstreet", "tiny", "hostile")} <= groups
    assert ("hackernews", "story") in groups


def test_fake_texts_carry_varied_sentiment_deterministically() -> None:
    vader = SentimentIntensityAnalyzer()
    bodies = [text.body(random.Random(f"seed:{i}"), 2) for i in range(300)]
    assert bodies == [text.body(random.Random(f"seed:{i}"), 2) for i in range(300)]
    labels = [label_for(vader.polarity_scores(b)["compound"]) for b in bodies if b]
    shares = {label: labels.count(label) / len(labels) for label in set(labels)}
    assert set(shares) == {"positive", "neutral", "negative"}
    assert min(shares.values()) > 0.15, shares
    rng = random.Random(3)  # the words do not change how much randomness a text uses
    text.body(rng)
    plain = random.Random(3)
    count = plain.randint(0, 3)
    for _ in range(count):
        for _ in range(plain.randint(1, 4)):
            [plain.choice(range(104)) for _ in range(plain.randint(4, 14))]
            plain.choice((".", ".", "!", "?"))
    assert rng.random() == plain.random()
