"""`sentiment eval` and `sentiment sample`: metrics, label files, stratified samples."""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentiment_pipeline.cli import app
from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.models import RawEventORM
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.sentiment import ScoreOptions, clean_text, label_for, score_events
from sentiment_pipeline.sentiment.eval import (
    LABELS,
    accuracy,
    cohen_kappa,
    confusion_matrix,
    macro_f1,
    metrics,
    per_class,
)
from sentiment_pipeline.sentiment.sample import SAMPLE_COLUMNS, allocate
from sentiment_pipeline.sentiment.scorers import model_id_for

runner = CliRunner()
START = datetime(2024, 3, 1, tzinfo=UTC)
VADER = SentimentIntensityAnalyzer()
LABEL = st.sampled_from(LABELS)

# --- metrics ----------------------------------------------------------------------------


def _direct(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    """The textbook definitions, written out independently of eval.py."""
    n = len(truth)
    pairs = list(zip(truth, predicted, strict=True))
    out: dict[str, Any] = {"accuracy": sum(t == p for t, p in pairs) / n}
    f1s = []
    for label in LABELS:
        tp = sum(t == p == label for t, p in pairs)
        npred, nact = predicted.count(label), truth.count(label)
        prec = tp / npred if npred else 0.0
        rec = tp / nact if nact else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
        out[label] = (prec, rec)
    out["macro_f1"] = sum(f1s) / 3
    po = out["accuracy"]
    pe = sum(truth.count(label) * predicted.count(label) for label in LABELS) / n / n
    out["kappa"] = 1.0 if pe == 1 else (po - pe) / (1 - pe)
    out["confusion"] = [[sum(t == a and p == b for t, p in pairs) for b in LABELS] for a in LABELS]
    return out


def test_metrics_on_a_worked_example() -> None:
    truth = ["positive"] * 4 + ["neutral"] * 3 + ["negative"] * 3
    predicted = [
        "positive", "positive", "positive", "neutral",
        "neutral", "neutral", "positive",
        "negative", "negative", "neutral",
    ]  # fmt: skip
    assert confusion_matrix(truth, predicted) == [[3, 1, 0], [1, 2, 0], [0, 1, 2]]
    assert accuracy(truth, predicted) == 0.7
    classes = {c.label: c for c in per_class(truth, predicted)}
    assert (classes["positive"].precision, classes["positive"].recall) == (0.75, 0.75)
    assert (classes["neutral"].precision, classes["neutral"].recall) == (0.5, 2 / 3)
    assert (classes["negative"].precision, classes["negative"].recall) == (1.0, 2 / 3)
    assert classes["negative"].support == 3
    f1 = [0.75, 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3), 0.8]
    assert macro_f1(truth, predicted) == pytest.approx(sum(f1) / 3)
    pe = (4 * 4 + 3 * 4 + 3 * 2) / 100
    assert cohen_kappa(truth, predicted) == pytest.approx((0.7 - pe) / (1 - pe))


def test_edge_cases() -> None:
    assert metrics([], []).items == 0 and cohen_kappa([], []) == 0.0
    assert cohen_kappa(["neutral"] * 3, ["neutral"] * 3) == 1.0
    with pytest.raises(ValueError, match="unknown label"):
        accuracy(["good"], ["positive"])
    with pytest.raises(ValueError, match="against"):
        accuracy(["positive"], [])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(LABEL, LABEL), min_size=1, max_size=60))
def test_metrics_equal_direct_computation_and_sklearn(pairs: list[tuple[str, str]]) -> None:
    truth = [t for t, _ in pairs]
    predicted = [p for _, p in pairs]
    direct = _direct(truth, predicted)
    m = metrics(truth, predicted)
    assert m.items == len(pairs)
    assert m.confusion == direct["confusion"]
    assert m.accuracy == pytest.approx(direct["accuracy"])
    assert m.macro_f1 == pytest.approx(direct["macro_f1"])
    assert m.kappa == pytest.approx(direct["kappa"])
    for c in m.classes:
        assert (c.precision, c.recall) == pytest.approx(direct[c.label])
    assert cohen_kappa(truth, predicted) == pytest.approx(cohen_kappa(predicted, truth))
    sk = pytest.importorskip("sklearn.metrics")
    labels = list(LABELS)
    assert m.confusion == sk.confusion_matrix(truth, predicted, labels=labels).tolist()
    assert m.accuracy == pytest.approx(sk.accuracy_score(truth, predicted))
    assert m.macro_f1 == pytest.approx(
        sk.f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)
    )
    prec = sk.precision_score(truth, predicted, labels=labels, average=None, zero_division=0)
    rec = sk.recall_score(truth, predicted, labels=labels, average=None, zero_division=0)
    assert [c.precision for c in m.classes] == pytest.approx(list(prec))
    assert [c.recall for c in m.classes] == pytest.approx(list(rec))
    with warnings.catch_warnings():  # sklearn warns where kappa is 0/0 (one class)
        warnings.simplefilter("ignore")
        sk_kappa = sk.cohen_kappa_score(truth, predicted, labels=labels)
    if math.isnan(sk_kappa):  # one class on both sides: sklearn's 0/0, ours 1 (documented)
        assert m.kappa == 1.0 and truth == predicted
    else:
        assert m.kappa == pytest.approx(sk_kappa)


# --- allocation -------------------------------------------------------------------------


def test_allocation_is_proportional_with_one_per_stratum() -> None:
    counts = {("reddit", "a", "positive"): 900, ("reddit", "a", "neutral"): 90,
              ("reddit", "b", "negative"): 9, ("hackernews", "ask", "neutral"): 1}  # fmt: skip
    alloc = allocate(counts, 100)
    assert alloc == {
        ("reddit", "a", "positive"): 89,
        ("reddit", "a", "neutral"): 9,
        ("reddit", "b", "negative"): 1,
        ("hackernews", "ask", "neutral"): 1,
    }
    assert allocate(counts, 2) == {
        ("reddit", "a", "positive"): 1,
        ("reddit", "a", "neutral"): 1,
        ("reddit", "b", "negative"): 0,
        ("hackernews", "ask", "neutral"): 0,
    }
    assert allocate(counts, 5000) == counts


@given(
    st.dictionaries(
        st.tuples(st.sampled_from(["reddit", "hackernews"]), st.text(max_size=3), LABEL),
        st.integers(0, 200),
        max_size=12,
    ),
    st.integers(1, 600),
)
def test_allocation_properties(counts: dict[tuple[str, str, str], int], n: int) -> None:
    alloc = allocate(counts, n)
    present = {k for k, c in counts.items() if c > 0}
    total = sum(counts.values())
    assert set(alloc) == present
    assert sum(alloc.values()) == min(n, total)
    assert all(0 <= alloc[k] <= counts[k] for k in present)
    if n >= len(present):
        assert all(alloc[k] >= 1 for k in present)
        for k in present:  # within one (plus the minimum's bump) of the proportional share
            share = n * counts[k] / total
            assert alloc[k] <= max(1, math.floor(share)) + len(present)
            assert alloc[k] >= min(counts[k], math.floor(share)) - len(present)


# --- stored events ----------------------------------------------------------------------

WORDS = ("great", "awful", "fine", "love it", "hate this", "the market", "terrible", ":)")


def _reddit(i: int, sub: str) -> dict[str, Any]:
    text = f"{WORDS[i % 8]} and {WORDS[(i * 3) % 8]} today"
    return {
        "id": f"t1_{i:06d}",
        "occurred_at": START + timedelta(minutes=i * 7),
        "source": "reddit",
        "source_id": sub,
        "event_type": "comment",
        "payload": {"subreddit": sub, "body": text},
    }


def _hn(i: int) -> dict[str, Any]:
    return {
        "id": f"hn_{i}",
        "occurred_at": START + timedelta(minutes=i * 11),
        "source": "hackernews",
        "source_id": "ask",
        "event_type": "story",
        "payload": {"title": f"Ask HN: {WORDS[i % 8]}?", "text": "I <i>love</i> it &amp; more"},
    }


def _scored(url: str, tmp_path: Path, n: int = 60) -> list[dict[str, Any]]:
    """n Reddit comments over three subreddits plus five HN stories, stored and scored."""
    events = [_reddit(i, ("python", "stocks", "news")[i % 3]) for i in range(n)]
    events += [_hn(i) for i in range(5)]
    init_db(parse_database_url(url))
    engine = sa.create_engine(parse_database_url(url).sqlalchemy)
    with engine.begin() as connection:
        connection.execute(sa.insert(RawEventORM.__table__), events)
    engine.dispose()
    score_events(parse_database_url(url), ScoreOptions(), lock_path=tmp_path / "s.lock")
    return events


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {"SENTPIPE_DATABASE_URL": url, "SENTPIPE_DATA_DIR": str(tmp_path)}


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _vader_label(event: dict[str, Any]) -> str:
    body = event["payload"]["body"]
    return label_for(VADER.polarity_scores(clean_text(body))["compound"])


def test_eval_id_labels(any_db_url: str, tmp_path: Path) -> None:
    events = _scored(any_db_url, tmp_path)[:30]
    truth = ["positive", "neutral", "negative"]
    rows = [["id", "label"]] + [[e["id"], truth[i % 3].upper()] for i, e in enumerate(events)]
    rows += [["t1_nothere", "neutral"], ["t1_000001", ""]]
    labels = _write(tmp_path / "labels.csv", rows)
    env = _env(any_db_url, tmp_path)
    result = runner.invoke(
        app, ["sentiment", "eval", "--labels", str(labels), "--json", "--model", "vader",
              "--model", "vader-0.0-none"], env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["kind"], data["labelled"], data["unlabelled"], data["missing"]) == (
        "id", 31, 1, 1,
    )  # fmt: skip
    vader, other = data["models"]
    assert vader["model"] == model_id_for("vader") and vader["unscored"] == 0
    expected = metrics([truth[i % 3] for i in range(30)], [_vader_label(e) for e in events])
    assert vader["items"] == 30
    assert vader["accuracy"] == pytest.approx(expected.accuracy)
    assert vader["macro_f1"] == pytest.approx(expected.macro_f1)
    assert vader["kappa"] == pytest.approx(expected.kappa)
    assert vader["confusion"]["matrix"] == expected.confusion
    assert vader["classes"]["neutral"]["recall"] == pytest.approx(expected.classes[1].recall)
    assert (other["model"], other["items"], other["unscored"]) == ("vader-0.0-none", 0, 30)
    assert data["agreement"] == [
        {"first": vader["model"], "second": "vader-0.0-none", "items": 0, "kappa": 0.0}
    ]
    text = runner.invoke(app, ["sentiment", "eval", "--labels", str(labels)], env=env)
    assert text.exit_code == 0, text.output
    assert "accuracy" in text.output and "Not stored (left out): 1 id." in text.output


def test_eval_text_labels(tmp_path: Path, sqlite_url: str) -> None:
    texts = ["I love this so much!", "This is awful and I hate it", "The meeting is at noon",
             "Great, just great :)", "> only a quote", "`code only`"]  # fmt: skip
    truth = ["positive", "negative", "neutral", "negative", "neutral", "neutral"]
    labels = _write(
        tmp_path / "t.csv",
        [["text", "label"]] + [[t, s] for t, s in zip(texts, truth, strict=True)],
    )
    result = runner.invoke(
        app,
        ["sentiment", "eval", "--labels", str(labels), "--json", "--model", "vader",
         "--model", model_id_for("vader")],
        env=_env(sqlite_url, tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kind"] == "text" and len(data["models"]) == 1  # the same model once
    (vader,) = data["models"]
    scored = [(t, s) for t, s in zip(texts, truth, strict=True) if clean_text(t)]
    assert vader["unscored"] == 2 and vader["items"] == len(scored) == 4
    predicted = [label_for(VADER.polarity_scores(clean_text(t))["compound"]) for t, _ in scored]
    expected = metrics([s for _, s in scored], predicted)
    assert vader["confusion"]["matrix"] == expected.confusion
    assert vader["accuracy"] == pytest.approx(expected.accuracy)
    bad = runner.invoke(
        app, ["sentiment", "eval", "--labels", str(labels), "--model", "vader-0.1"],
        env=_env(sqlite_url, tmp_path),
    )  # fmt: skip
    assert bad.exit_code == 2 and "cannot score free texts" in bad.output


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["id", "label"], ["t1_1", "positive"], ["t1_2", "good"]], "labels.csv:3: bad label"),
        ([["id", "sentiment"], ["t1_1", "positive"]], "labels.csv:1: no label column"),
        ([["body", "label"], ["t1_1", "positive"]], "labels.csv:1: no id or text column"),
        ([["id", "label"], ["", "positive"]], "labels.csv:2: empty id"),
        ([["id", "label"], ["t1_1"]], "labels.csv:2: too few columns"),
        ([["id", "label"], ["t1_1", ""]], "no labelled row"),
        ([], "labels.csv:1: no label column"),
    ],
)
def test_eval_file_errors(
    tmp_path: Path, sqlite_url: str, rows: list[list[str]], message: str
) -> None:
    labels = _write(tmp_path / "labels.csv", rows)
    result = runner.invoke(
        app, ["sentiment", "eval", "--labels", str(labels)], env=_env(sqlite_url, tmp_path)
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_eval_missing_file(tmp_path: Path, sqlite_url: str) -> None:
    result = runner.invoke(
        app, ["sentiment", "eval", "--labels", str(tmp_path / "none.csv")],
        env=_env(sqlite_url, tmp_path),
    )  # fmt: skip
    assert result.exit_code == 2 and "no such file" in result.output


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_sample_strata_determinism_and_round_trip(any_db_url: str, tmp_path: Path) -> None:
    events = {e["id"]: e for e in _scored(any_db_url, tmp_path)}
    env = _env(any_db_url, tmp_path)
    out = tmp_path / "sample.csv"
    args = ["sentiment", "sample", "--n", "20", "-o", str(out), "--seed", "7"]
    first = runner.invoke(app, [*args, "--json"], env=env)
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert (data["rows"], data["population"], data["seed"]) == (20, 65, 7)
    strata = {(s["source"], s["source_id"], s["predicted"]): s for s in data["strata"]}
    assert all(s["sampled"] >= 1 for s in strata.values())
    assert sum(s["events"] for s in strata.values()) == 65
    rows = _read(out)
    assert list(rows[0]) == list(SAMPLE_COLUMNS) and len(rows) == 20
    taken = Counter((r["source"], r["source_id"], r["predicted"]) for r in rows)
    assert taken == {k: s["sampled"] for k, s in strata.items()}
    assert len({r["id"] for r in rows}) == 20
    for row in rows:
        event = events[row["id"]]
        assert row["label"] == ""
        assert row["occurred_at"] == event["occurred_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if event["source"] == "hackernews":  # the source's text: plain, title first
            assert row["text"] == f"{event['payload']['title']}\n\nI love it & more"
        else:
            assert row["text"] == event["payload"]["body"]
            assert row["predicted"] == _vader_label(event)
    again = runner.invoke(app, args, env=env)
    assert again.exit_code == 2 and "already exists" in again.output
    forced = runner.invoke(app, [*args, "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    assert _read(out) == rows  # the same seed, the same file
    other = runner.invoke(app, [*args[:-1], "8", "-o", str(tmp_path / "s8.csv")], env=env)
    assert other.exit_code == 0 and _read(tmp_path / "s8.csv") != rows
    # a person labels the sample: here "positive" wherever VADER said so, else "neutral"
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(SAMPLE_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                row | {"label": "positive" if row["predicted"] == "positive" else "neutral"}
            )
    result = runner.invoke(app, ["sentiment", "eval", "--labels", str(out), "--json"], env=env)
    assert result.exit_code == 0, result.output
    (vader,) = json.loads(result.output)["models"]
    expected = metrics(
        ["positive" if r["predicted"] == "positive" else "neutral" for r in rows],
        [r["predicted"] for r in rows],
    )
    assert vader["items"] == 20 and vader["unscored"] == 0
    assert vader["confusion"]["matrix"] == expected.confusion


def test_sample_all_and_since(sqlite_url: str, tmp_path: Path) -> None:
    _scored(sqlite_url, tmp_path, n=9)
    env = _env(sqlite_url, tmp_path)
    out = tmp_path / "all.csv"
    result = runner.invoke(app, ["sentiment", "sample", "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "Wrote 14 of 14 events" in result.output and len(_read(out)) == 14
    since = (START + timedelta(minutes=30)).isoformat()
    late = tmp_path / "late.csv"
    result = runner.invoke(app, ["sentiment", "sample", "-o", str(late), "--since", since], env=env)
    assert result.exit_code == 0, result.output
    assert all(r["occurred_at"] >= "2024-03-01T00:30" for r in _read(late))
    assert len(_read(late)) == 14 - 5 - 3  # t1 0-4 and hn 0-2 are earlier
    empty = runner.invoke(
        app, ["sentiment", "sample", "-o", str(tmp_path / "e.csv"), "--model", "none-1"],
        env=env,
    )  # fmt: skip
    assert empty.exit_code == 2 and "unknown sentiment model 'none-1'" in empty.output
    assert not (tmp_path / "e.csv").exists()
