"""`sentiment eval`: compare models' labels with a person's, from a labels CSV file.

The file (UTF-8, a header row, a BOM allowed) has a `label` column and either an `id`
column (ids of stored events: each model's stored scores are compared) or a `text`
column (free texts: each model, a registry name, scores them now, cleaned as the scorer
cleans stored text). With both, `id` wins (a `sentiment sample` file). Labels are
`positive`, `neutral` or `negative` in any case; an empty label is a row not labelled
yet (counted, left out). A bad label, an empty id or text, or a missing column is a
ConfigError naming the file and line (exit 2).

Per model the items are the labelled rows it has a label for: an id not stored is
counted as `missing` (for every model), an event or text without a score as that
model's `unscored`. The metrics are `sentiment.eval`'s; kappa is computed between each
model and the labels and between each pair of models (over the rows both labelled).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError, SentpipeError
from sentiment_pipeline.sentiment.eval import LABELS, Metrics, cohen_kappa, metrics

__all__ = [
    "JSON_VERSION",
    "EvalResult",
    "LabelFile",
    "LabelRow",
    "ModelEval",
    "PairKappa",
    "evaluate_labels",
    "read_labels",
]

JSON_VERSION = 1
_CHUNK = 500  # ids per query (SQLite allows 32,766 parameters; PostgreSQL 65,535)


@dataclass(frozen=True)
class LabelRow:
    line: int  # the row's line in the file (the header is line 1)
    key: str  # the event id, or the free text
    label: str  # one of LABELS


@dataclass(frozen=True)
class LabelFile:
    """A labels file read and checked: `kind` is `id` or `text`; `unlabelled`: rows
    whose label is empty."""

    path: Path
    kind: str
    rows: list[LabelRow]
    unlabelled: int = 0


def _lines(path: Path) -> Iterator[str]:
    """The file's text lines (gzip for a `.gz` name); ConfigError when it cannot be read."""
    try:
        gz = path.name.endswith(".gz")
        with (
            gzip.open(path, "rb") if gz else path.open("rb") as raw,
            io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
        ):
            yield from text
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", "give the labels CSV file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it ({error})", "give a UTF-8 CSV file") from None


def _columns(path: Path, header: Sequence[str] | None) -> tuple[str, int, int]:
    """(`id` or `text`, its column, the label's column) from the header row; ConfigError
    when a column is missing."""
    names = [name.strip().lower() for name in header or ()]
    if "label" not in names:
        raise ConfigError(f"{path}:1: no label column", "the header needs id,label or text,label")
    for kind in ("id", "text"):
        if kind in names:
            return kind, names.index(kind), names.index("label")
    raise ConfigError(f"{path}:1: no id or text column", "the header needs id,label or text,label")


def _label(path: Path, line: int, value: str) -> str | None:
    """The canonical label, None for an empty one; ConfigError for anything else."""
    label = value.strip().lower()
    if not label:
        return None
    if label not in LABELS:
        raise ConfigError(
            f"{path}:{line}: bad label {value!r}",
            f"use {', '.join(LABELS)} (any case), or leave it empty",
        )
    return label


def read_labels(path: Path) -> LabelFile:
    """The labelled rows of `path` (module docstring); ConfigError names the line of
    the first problem."""
    reader = csv.reader(_lines(path))
    try:
        kind, key_at, label_at = _columns(path, next(reader, None))
        rows: list[LabelRow] = []
        unlabelled = 0
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            if len(record) <= max(key_at, label_at):
                raise ConfigError(f"{path}:{line}: too few columns", "give every column")
            key = record[key_at] if kind == "text" else record[key_at].strip()
            if not key.strip():
                raise ConfigError(f"{path}:{line}: empty {kind}", f"give the {kind}")
            label = _label(path, line, record[label_at])
            if label is None:
                unlabelled += 1
            else:
                rows.append(LabelRow(line, key, label))
    except csv.Error as error:
        raise ConfigError(f"{path}:{reader.line_num}: {error}", "give RFC 4180 CSV") from None
    return LabelFile(path, kind, rows, unlabelled)


@dataclass(frozen=True)
class ModelEval:
    """One model against the labels: `name` as given, `model` the stored model id."""

    name: str
    model: str
    unscored: int
    metrics: Metrics

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "unscored": self.unscored} | (
            self.metrics.to_dict()
        )


@dataclass(frozen=True)
class PairKappa:
    """Cohen's kappa between two models over the labelled rows both labelled."""

    first: str
    second: str
    items: int
    kappa: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "items": self.items,
            "kappa": self.kappa,
        }


@dataclass
class EvalResult:
    """What `sentiment eval` prints; `to_dict()` is the documented `--json` shape."""

    path: str
    kind: str
    labelled: int
    unlabelled: int = 0
    missing: int = 0  # ids not stored (kind `id`)
    label_counts: dict[str, int] = field(default_factory=dict)
    models: list[ModelEval] = field(default_factory=list)
    pairs: list[PairKappa] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": JSON_VERSION,
            "file": self.path,
            "kind": self.kind,
            "labelled": self.labelled,
            "unlabelled": self.unlabelled,
            "missing": self.missing,
            "labels": {label: self.label_counts.get(label, 0) for label in LABELS},
            "models": [m.to_dict() for m in self.models],
            "agreement": [p.to_dict() for p in self.pairs],
        }


Predictions = dict[int, str]  # row index in LabelFile.rows -> the model's label


def _model_ids(models: Sequence[str]) -> list[tuple[str, str]]:
    """(name as given, stored model id) per model, the first of each id kept."""
    from sentiment_pipeline.sentiment.scorers import stored_model_id

    seen: dict[str, str] = {}
    for name in models:
        seen.setdefault(stored_model_id(name), name)
    return [(name, model) for model, name in seen.items()]


def _text_predictions(
    rows: Sequence[LabelRow], name: str, model: str, threads: int | None = None
) -> Predictions:
    """Labels of the free texts by the registry scorer `name` (or the one whose current
    id is `model`); a text with nothing left once cleaned gets none."""
    from sentiment_pipeline.sentiment.clean import clean_text
    from sentiment_pipeline.sentiment.scorers import (
        get_scorer,
        is_model_spec,
        model_id_for,
        worker_threads,
    )

    spec = name if is_model_spec(name) else None
    spec = spec or ("vader" if model_id_for("vader") == model else None)
    if spec is None:
        raise ConfigError(
            f"--model {name!r} cannot score free texts",
            "a text,label file needs a scorer (vader, onnx:DIR); "
            "stored model ids work with an id,label file",
        )
    with worker_threads(1, threads):
        scorer = get_scorer(spec)
    texts = {i: text for i, row in enumerate(rows) if (text := clean_text(row.key))}
    scores = scorer.score_batch(list(texts.values()))
    return {i: score.label for i, score in zip(texts, scores, strict=True)}


def _stored_predictions(
    url: DatabaseURL, rows: Sequence[LabelRow], models: Sequence[str]
) -> tuple[set[str], dict[str, dict[str, str]]]:
    """(the ids stored in raw_events, per model id: event id -> stored label)."""
    from sentiment_pipeline.sentiment.report import open_store

    ids = sorted({row.key for row in rows})
    mark = "%s" if url.backend == "postgresql" else "?"
    stored: set[str] = set()
    labels: dict[str, dict[str, str]] = {model: {} for model in models}
    store = open_store(url)
    try:
        connection = store._conn
        with store._guard():
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ", ".join([mark] * len(chunk))
                found = connection.execute(
                    f"SELECT DISTINCT id FROM raw_events WHERE id IN ({marks})", chunk
                ).fetchall()
                stored.update(row[0] for row in found)
                scores = connection.execute(
                    f"SELECT id, model, label FROM sentiment_scores WHERE id IN ({marks}) "
                    f"AND model IN ({', '.join([mark] * len(models))}) ORDER BY occurred_at",
                    [*chunk, *models],
                ).fetchall()
                for ident, model, label in scores:
                    labels[model][ident] = label
            if url.backend == "postgresql":
                connection.commit()
    finally:
        store.close()
    return stored, labels


def _pairs(predictions: Sequence[tuple[str, Predictions]]) -> list[PairKappa]:
    out: list[PairKappa] = []
    for i, (first, a) in enumerate(predictions):
        for second, b in predictions[i + 1 :]:
            both = sorted(a.keys() & b.keys())
            kappa = cohen_kappa([a[k] for k in both], [b[k] for k in both])
            out.append(PairKappa(first, second, len(both), kappa))
    return out


def _id_predictions(
    url: DatabaseURL | None, path: Path, rows: Sequence[LabelRow], named: Sequence[tuple[str, str]]
) -> tuple[set[str], list[tuple[str, Predictions]]]:
    """(the stored ids, per model id its stored labels of the rows)."""
    if url is None:
        raise ConfigError(f"{path}: an id,label file needs a database", "configure one")
    stored, by_model = _stored_predictions(url, rows, [model for _, model in named])
    predictions: list[tuple[str, Predictions]] = []
    for _, model in named:
        found = by_model[model]
        predictions.append(
            (model, {i: found[row.key] for i, row in enumerate(rows) if row.key in found})
        )
    return stored, predictions


def evaluate_labels(
    url: DatabaseURL | None,
    path: Path,
    models: Sequence[str] = ("vader",),
    threads: int | None = None,
) -> EvalResult:
    """Compare each of `models` (`vader`, `onnx:DIR` or stored model ids) with the labels
    of `path` (module docstring). `url` is read for an `id,label` file only; `threads`:
    a scorer's own thread pool for texts (the `scorer_threads` setting). Raises
    ConfigError for a bad file, an unknown scorer for texts, an unmigrated database;
    SentpipeError when none of the file's ids is stored (another database?);
    DatabaseUnreachable when the server does not answer."""
    labels = read_labels(path)
    rows = labels.rows
    if not rows:
        raise ConfigError(f"{path}: no labelled row", "fill the label column of some rows")
    named = _model_ids(models or ("vader",))
    result = EvalResult(str(path), labels.kind, len(rows), labels.unlabelled)
    result.label_counts = dict(Counter(row.label for row in rows))
    if labels.kind == "text":
        predictions = [
            (model, _text_predictions(rows, name, model, threads)) for name, model in named
        ]
        known = list(range(len(rows)))
    else:
        stored, predictions = _id_predictions(url, path, rows, named)
        known = [i for i, row in enumerate(rows) if row.key in stored]
        result.missing = len(rows) - len(known)
        if not known:
            raise SentpipeError(
                f"{path}: none of its {len(rows):,} ids is stored in this database",
                "check SENTPIPE_DATABASE_URL: is it the database the sample was drawn from?",
            )
    for (name, model), (_, predicted) in zip(named, predictions, strict=True):
        items = [i for i in known if i in predicted]
        truth = [rows[i].label for i in items]
        figures = metrics(truth, [predicted[i] for i in items])
        result.models.append(ModelEval(name, model, len(known) - len(items), figures))
    result.pairs = _pairs(predictions)
    return result
