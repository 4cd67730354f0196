"""`--model onnx:DIR`: a transformer classifier exported to ONNX, on a tiny model built here.

The model and tokenizer come from tests/fixtures/onnx_model.py (no network). Scores are
compared with onnxruntime run directly on each window, one at a time, unpadded.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sentiment_pipeline.cli import app
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sentiment import clean_text
from sentiment_pipeline.sentiment.scorers import get_scorer, model_id_for, worker_threads
from sentiment_pipeline.sentiment.scorers.base import THREADS_ENV
from sentiment_pipeline.sentiment.scorers.onnx import OnnxScorer, read_folder
from tests.fixtures import onnx_model
from tests.fixtures.onnx_model import VOCAB, build, token_ids
from tests.test_sentiment import SENTPIPE, _event, _scores, _setup

runner = CliRunner()
WORDS = list(onnx_model.WORDS)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model, windows of at most 8 tokens ([CLS] + 6 words + [SEP])."""
    return build(tmp_path_factory.mktemp("models") / "tiny", max_length=8)


@pytest.fixture(scope="module")
def scorer(tiny: Path) -> OnnxScorer:
    return OnnxScorer(str(tiny))


def _direct(folder: Path, text: str, max_length: int) -> np.ndarray:
    """Class probabilities by the documented rule, onnxruntime run on each window alone."""
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
    ids = token_ids(text)
    size = max_length - 2
    total, weights = np.zeros(3), 0
    for part in [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]:
        window = np.array([[VOCAB["[CLS]"], *part, VOCAB["[SEP]"]]], dtype=np.int64)
        (logits,) = session.run(None, {"input_ids": window, "attention_mask": np.ones_like(window)})
        exp = np.exp(logits[0].astype(np.float64) - logits[0].max())
        total += exp / exp.sum() * max(len(part), 1)
        weights += max(len(part), 1)
    return total / weights


def _check(score: Any, probabilities: np.ndarray) -> None:
    names = ("negative", "neutral", "positive")
    assert [score.probabilities[n] for n in names] == pytest.approx(list(probabilities), abs=1e-6)
    assert score.compound == pytest.approx(probabilities[2] - probabilities[0], abs=1e-6)
    assert score.label == names[int(np.argmax(probabilities))]
    assert (score.pos, score.neu, score.neg) == (None, None, None)


# --- scoring (no database) --------------------------------------------------------------


def test_short_texts_equal_direct_onnxruntime(tiny: Path, scorer: OnnxScorer) -> None:
    texts = ["good", "the market is up today", "awful loss , very sad", "zzz unknown words"]
    for text, score in zip(texts, scorer.score_batch(texts), strict=True):
        _check(score, _direct(tiny, text, 8))
    assert scorer.outputs == ("compound", "label", "probabilities")
    assert scorer.languages is None and scorer.max_tokens == 8


def test_long_text_is_split_into_windows_weighted_by_tokens(tiny: Path, scorer: OnnxScorer) -> None:
    text = " ".join(WORDS[i % len(WORDS)] for i in range(6 * 3 + 4))  # windows of 6, 6, 6, 4
    windows = scorer._windows(0, scorer._tokenizer.encode(text, add_special_tokens=False))
    assert [w.weight for w in windows] == [6, 6, 6, 4]
    assert all(w.ids[0] == VOCAB["[CLS]"] and w.ids[-1] == VOCAB["[SEP]"] for w in windows)
    assert all(len(w.ids) <= 8 for w in windows)
    (score,) = scorer.score_batch([text])
    _check(score, _direct(tiny, text, 8))
    exact = "good great love nice happy win"  # exactly 6 words + 2 specials: one window
    assert len(scorer._windows(0, scorer._tokenizer.encode(exact, add_special_tokens=False))) == 1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=30), max_size=80))
def test_a_mixed_batch_equals_one_at_a_time(scorer: OnnxScorer, texts: list[list[str]]) -> None:
    joined = [" ".join(words) for words in texts]  # up to 80: several batches of 32
    together = scorer.score_batch(joined)
    assert len(together) == len(joined)
    for text, score in zip(joined, together, strict=True):
        (alone,) = scorer.score_batch([text])
        assert score.label == alone.label
        assert score.compound == pytest.approx(alone.compound, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_one_valid_score(scorer: OnnxScorer, text: str) -> None:
    (score,) = scorer.score_batch([text])
    assert score.probabilities is not None
    assert sum(score.probabilities.values()) == pytest.approx(1.0)
    assert -1.0 <= score.compound <= 1.0
    assert score.label in score.probabilities
    assert score.label == max(score.probabilities, key=lambda k: score.probabilities[k])  # type: ignore[index]


def test_model_id_names_folder_and_hash_and_needs_no_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = build(tmp_path / "my-model")
    first = model_id_for(f"onnx:{folder}")
    assert first.startswith("onnx:my-model@") and len(first.split("@")[1]) == 12
    build(folder, seed=1)  # a new version of model.onnx in the same folder
    second = model_id_for(f"onnx:{folder}")
    assert second != first and second.startswith("onnx:my-model@")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert model_id_for(f"onnx:{folder}") == second  # identify never imports onnxruntime


def test_max_length_and_languages_from_the_folder(tmp_path: Path) -> None:
    def folder(name: str, max_length: int | None, extra: dict[str, Any]) -> Path:
        return build(tmp_path / name, max_length=max_length, extra=extra)

    roberta = {"model_type": "roberta", "max_position_embeddings": 514}
    assert read_folder(str(folder("r", None, roberta))).max_tokens == 512  # twitter-roberta
    assert read_folder(str(folder("r2", 4096, roberta))).max_tokens == 512  # capped
    assert read_folder(str(folder("b", None, {"max_position_embeddings": 512}))).max_tokens == 512
    assert read_folder(str(folder("m", 64, {}))).max_tokens == 64
    tok = folder("t", 64, {})
    data = json.loads((tok / "tokenizer.json").read_text())
    data["truncation"] = {"direction": "Right", "max_length": 32, "strategy": "LongestFirst",
                          "stride": 0}  # fmt: skip
    (tok / "tokenizer.json").write_text(json.dumps(data))
    assert read_folder(str(tok)).max_tokens == 32  # tokenizer.json first
    en = folder("en", 8, {"languages": ["EN"]})
    assert OnnxScorer(str(en)).languages == frozenset({"en"})


def test_worker_threads_share_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    with worker_threads(2):
        assert int(os.environ[THREADS_ENV]) == max(1, len(os.sched_getaffinity(0)) // 2)
    assert THREADS_ENV not in os.environ
    with worker_threads(1):
        assert THREADS_ENV not in os.environ
    monkeypatch.setenv(THREADS_ENV, "3")
    with worker_threads(4):
        assert os.environ[THREADS_ENV] == "3"  # the user's choice stays
    assert os.environ[THREADS_ENV] == "3"
    with worker_threads(1, threads=5):  # the scorer_threads setting
        assert os.environ[THREADS_ENV] == "5"
    assert os.environ[THREADS_ENV] == "3"


def test_scorer_threads_setting_reaches_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentiment_pipeline.sentiment.run import ScoreOptions, _make_scorer

    monkeypatch.delenv(THREADS_ENV, raising=False)
    folder = build(tmp_path / "m")
    scorer = _make_scorer(ScoreOptions(model=f"onnx:{folder}", threads=1))
    options = scorer._session.get_session_options()  # type: ignore[attr-defined]
    assert options.intra_op_num_threads == 1
    assert THREADS_ENV not in os.environ


# --- errors -----------------------------------------------------------------------------


def _bad_folder(tmp_path: Path, case: str) -> Path:
    """A folder broken in one way (see the parametrize list)."""
    folder = tmp_path / "bad"
    if case == "no folder":
        return folder
    build(folder)
    config = json.loads((folder / "config.json").read_text())
    if case in ("no model.onnx", "no tokenizer.json", "no config.json"):
        (folder / case.removeprefix("no ")).unlink()
        return folder
    elif case == "no id2label":
        del config["id2label"]
    elif case == "generic labels":
        config["id2label"] = {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    elif case == "unknown labels":
        config["id2label"] = {"0": "sad", "1": "meh", "2": "happy"}
    elif case == "bad inputs":
        (folder / "model.onnx").write_bytes(onnx_model.model_bytes(inputs=("ids", "mask")))
    elif case == "two classes":
        (folder / "model.onnx").write_bytes(onnx_model.model_bytes(classes=2))
    elif case == "not a model":
        (folder / "model.onnx").write_bytes(b"not a model")
    elif case == "not json":
        (folder / "config.json").write_text("{")
        return folder
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no folder", "no such folder"),
        ("no model.onnx", "model.onnx: no such file"),
        ("no tokenizer.json", "tokenizer.json: no such file"),
        ("no config.json", "config.json: no such file"),
        ("not json", "config.json: not a JSON file"),
        ("no id2label", "config.json: no id2label"),
        ("generic labels", "config.json: id2label has generic names"),
        ("unknown labels", "is not a set of negative/neutral/positive"),
        ("bad inputs", "model.onnx: inputs are ids, mask"),
        ("two classes", "model.onnx: the first output has shape"),
        ("not a model", "model.onnx: onnxruntime cannot load it"),
    ],
)
def test_bad_folders_name_the_file_and_what_to_do(tmp_path: Path, case: str, expected: str) -> None:
    folder = _bad_folder(tmp_path, case)
    with pytest.raises(ConfigError) as raised:
        get_scorer(f"onnx:{folder}")
    assert expected in raised.value.reason and raised.value.hint
    if case == "generic labels":
        assert "id2label" in raised.value.hint and "config.json" in raised.value.hint


def test_cli_errors_exit_2_in_one_line(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(sqlite_url, [_event(0, "good")]).dispose()
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    folder = build(tmp_path / "m")
    bad = runner.invoke(app, ["sentiment", "score", "--model", f"onnx:{tmp_path}/nope"], env=env)
    assert bad.exit_code == 2 and "no such folder" in bad.output
    assert runner.invoke(app, ["sentiment", "score", "--model", "onnx"], env=env).exit_code == 2
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    result = runner.invoke(app, ["sentiment", "score", "--model", f"onnx:{folder}"], env=env)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert "sentpipe[onnx]" in lines[0] and "pip install 'sentpipe[onnx]'" in result.output.lower()
    assert len(lines) <= 2 and "Traceback" not in result.output


# --- the installed command on every backend ---------------------------------------------


def _sentpipe(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).parents[1] / "src"),
    }
    return subprocess.run(
        [SENTPIPE, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


TEXTS = [
    "good great love the market today",
    "awful terrible loss , very sad and bad",
    "the stock price is up",
    "not very good",
    " ".join(WORDS * 3),  # longer than a window
]


def test_installed_score_export_report_next_to_vader(any_db_url: str, tmp_path: Path) -> None:
    folder = build(tmp_path / "tiny", max_length=8)
    spec = f"onnx:{folder}"
    engine = _setup(any_db_url, [_event(i, t) for i, t in enumerate(TEXTS)])
    vader = _sentpipe(any_db_url, tmp_path, "sentiment", "score", "--json")
    assert vader.returncode == 0, vader.stderr
    done = _sentpipe(
        any_db_url, tmp_path, "sentiment", "score", "--model", spec, "--rescore", "--json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    model = model_id_for(spec)
    assert result["model"] == model and result["scored"] == len(TEXTS)
    rows = _scores_by_model(engine)
    assert set(rows) == {model_id_for("vader"), model}  # both coexist
    expected = OnnxScorer(str(folder)).score_batch([clean_text(t) for t in TEXTS])
    for i, score in enumerate(expected):
        row = rows[model][f"t1_{i:06d}"]
        probabilities = row["probabilities"]
        if isinstance(probabilities, str):  # SQLite and PostgreSQL json text
            probabilities = json.loads(probabilities)
        assert probabilities == pytest.approx(dict(score.probabilities or {}))
        assert row["compound"] == pytest.approx(score.compound) and row["label"] == score.label
        assert (row["pos"], row["neu"], row["neg"]) == (None, None, None)
        assert row["language"]
    out = tmp_path / "out.csv"
    export = _sentpipe(
        any_db_url, tmp_path, "export", "csv", "-o", str(out), "--quiet",
        "--columns", "id,sentiment_compound,sentiment_label", "--sentiment-model", spec,
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    with out.open(newline="", encoding="utf-8") as f:
        exported = {r["id"]: r for r in csv.DictReader(f)}
    for ident, row in rows[model].items():
        exported_compound = float(exported[ident]["sentiment_compound"])  # 4 decimals
        assert exported_compound == pytest.approx(row["compound"], abs=5e-5)
        assert exported[ident]["sentiment_label"] == row["label"]
    report = _sentpipe(any_db_url, tmp_path, "sentiment", "report", "--model", spec, "--json")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert sum(r["events"] for r in data["rows"]) == len(TEXTS)
    engine.dispose()


def _scores_by_model(engine: sa.Engine) -> dict[str, dict[str, dict[str, Any]]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM sentiment_scores")).mappings().all()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["model"], {})[row["id"]] = dict(row)
    return out


def test_workers_share_the_onnx_model(postgres_url: str, tmp_path: Path) -> None:
    folder = build(tmp_path / "tiny", max_length=8)
    texts = [" ".join(WORDS[i % 7 : i % 7 + 3 + i % 5]) for i in range(60)]
    engine = _setup(postgres_url, [_event(i, t) for i, t in enumerate(texts)])
    done = _sentpipe(
        postgres_url, tmp_path, "sentiment", "score", "--model", f"onnx:{folder}",
        "--workers", "2", "--batch-size", "7", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["scored"] == 60
    expected = OnnxScorer(str(folder)).score_batch(texts)
    stored = _scores(engine)
    for i, score in enumerate(expected):
        assert stored[f"t1_{i:06d}"]["compound"] == pytest.approx(score.compound)
    engine.dispose()


def test_eval_free_texts_with_onnx_and_vader(sqlite_url: str, tmp_path: Path) -> None:
    folder = build(tmp_path / "tiny", max_length=8)
    truth = ["positive", "negative", "neutral", "negative", "neutral"]
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text", "label"], *zip(TEXTS, truth, strict=True)])
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    result = runner.invoke(
        app,
        ["sentiment", "eval", "--labels", str(labels), "--json",
         "--model", f"onnx:{folder}", "--model", "vader"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    models = {m["model"]: m for m in data["models"]}
    onnx = models[model_id_for(f"onnx:{folder}")]
    assert onnx["items"] == len(TEXTS) and model_id_for("vader") in models
    predicted = [s.label for s in OnnxScorer(str(folder)).score_batch(TEXTS)]
    right = sum(p == t for p, t in zip(predicted, truth, strict=True))
    assert onnx["accuracy"] == pytest.approx(right / len(TEXTS))
    assert len(data["agreement"]) == 1


def test_roberta_style_tokenizer_gets_its_special_tokens_in_every_window(tmp_path: Path) -> None:
    """A byte-level BPE with RobertaProcessing (what a roberta export ships): every window
    is `<s> … </s>` and the windows cover the text's tokens in order."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials, show_progress=False)
    tokenizer.train_from_iterator([" ".join(WORDS)] * 20, trainer)
    tokenizer.post_processor = processors.RobertaProcessing(
        ("</s>", tokenizer.token_to_id("</s>")), ("<s>", tokenizer.token_to_id("<s>"))
    )
    folder = build(tmp_path / "roberta", max_length=None, extra={
        "model_type": "roberta", "max_position_embeddings": 10, "pad_token_id": 1})  # fmt: skip
    (folder / "tokenizer.json").write_text(tokenizer.to_str())
    scorer = OnnxScorer(str(folder))  # windows only: the tiny model's vocabulary is smaller
    assert scorer.max_tokens == 8 and scorer._pad_id == 1
    text = " ".join(WORDS)
    content = tokenizer.encode(text, add_special_tokens=False).ids
    windows = scorer._windows(0, scorer._tokenizer.encode(text, add_special_tokens=False))
    assert len(windows) == -(-len(content) // 6)
    first, last = tokenizer.token_to_id("<s>"), tokenizer.token_to_id("</s>")
    assert all(w.ids[0] == first and w.ids[-1] == last and len(w.ids) <= 8 for w in windows)
    assert [i for w in windows for i in w.ids[1:-1]] == content
    assert [w.weight for w in windows] == [len(w.ids) - 2 for w in windows]
