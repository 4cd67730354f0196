"""Scored / waiting counts per model and `not scorable` counts per source, for `stats`.

- `scored`: rows in sentiment_scores for the model;
- `waiting`: events not processed yet that the scorer will claim (the same for every
  model): events of a source whose spec has no text rule are never claimed;
- `not_scorable` (per source): events with no text to score: processed with no score
  from any model (the source's text rule found none), and every unscored event of a
  source without a text rule;
- `skipped`: kept in the shape for readers of `stats --json` schema 1; always 0, as
  events with no text are `not_scorable`.
A database without sentiment_scores (not upgraded yet) gives no entries. One grouped
query each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError

__all__ = ["ModelCounts", "SentimentCounts", "sentiment_counts", "sentiment_figures"]


@dataclass(frozen=True)
class ModelCounts:
    model: str
    scored: int
    skipped: int
    waiting: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "scored": self.scored,
            "skipped": self.skipped,
            "waiting": self.waiting,
        }


@dataclass(frozen=True)
class SentimentCounts:
    """`models`: one `ModelCounts` per model that has scores (or `vader` with 0 when none
    has); `not_scorable`: source -> events with no text to score, largest first."""

    models: list[ModelCounts]
    not_scorable: dict[str, int]


def sentiment_figures(url: DatabaseURL) -> SentimentCounts:
    """The sentiment figures of `sentpipe stats` (module docstring); empty before the
    sentiment_scores table exists."""
    from sentiment_pipeline.sentiment.clean import text_plan
    from sentiment_pipeline.sentiment.scorers import model_id_for
    from sentiment_pipeline.sentiment.store import PostgresStore, SQLiteStore

    try:
        store: Any = PostgresStore(url) if url.backend == "postgresql" else SQLiteStore(url)
    except ConfigError:
        return SentimentCounts([], {})
    unscorable = text_plan().unscorable
    mark = "%s" if url.backend == "postgresql" else "?"
    among = f"source IN ({', '.join([mark] * len(unscorable))})" if unscorable else "FALSE"
    try:
        conn = store._conn
        false = "false" if url.backend == "postgresql" else "FALSE"
        per_model = conn.execute(
            "SELECT model, count(*) FROM sentiment_scores GROUP BY model ORDER BY model"
        ).fetchall()
        waiting = conn.execute(
            f"SELECT count(*) FROM raw_events WHERE processed = {false} AND NOT {among}",
            unscorable,
        ).fetchone()[0]
        per_source = conn.execute(
            f"SELECT source, count(*) FROM raw_events r WHERE (processed <> {false} OR {among}) "
            "AND NOT EXISTS (SELECT 1 FROM sentiment_scores s WHERE s.id = r.id "
            "AND s.occurred_at = r.occurred_at) GROUP BY source",
            unscorable,
        ).fetchall()
        if url.backend == "postgresql":
            conn.rollback()
    finally:
        store.close()
    models = [(str(m), int(n)) for m, n in per_model] or [(model_id_for("vader"), 0)]
    counts = sorted(((str(s), int(n)) for s, n in per_source), key=lambda kv: (-kv[1], kv[0]))
    return SentimentCounts([ModelCounts(m, n, 0, int(waiting)) for m, n in models], dict(counts))


def sentiment_counts(url: DatabaseURL) -> list[ModelCounts]:
    """`sentiment_figures(url).models`."""
    return sentiment_figures(url).models


def check_stored_model(
    rows: Callable[[str, list[Any]], list[Any]], dialect: str, model: str, model_id: str
) -> None:
    """ConfigError when `model` was given as an id (not `vader`, `onnx:DIR`) that is
    neither vader's current id nor stored, listing those; `rows(sql, params)` runs a
    query. A model spec or a current id passes: it may simply have no scores yet. The
    one check behind report, sample and export's `--sentiment-model`."""
    from sentiment_pipeline.sentiment.scorers import SPELLED, is_model_spec, model_id_for

    if model and is_model_spec(model):
        return
    known = {model_id_for("vader")}
    mark = "%s" if dialect == "postgresql" else "?"
    if model_id in known or (
        model_id
        and rows(f"SELECT 1 FROM sentiment_scores WHERE model = {mark} LIMIT 1", [model_id])
    ):
        return
    stored = {str(r[0]) for r in rows("SELECT DISTINCT model FROM sentiment_scores", [])}
    raise ConfigError(
        f"unknown sentiment model {model!r}",
        f"choose from {SPELLED} or a stored model: {', '.join(sorted(known | stored))}",
    )


def other_model_note(url: DatabaseURL, model: str, model_id: str) -> str | None:
    """The note for a `sentiment score --model M` run that found nothing to score while
    M has no score at all and other events are processed: `processed` is shared by the
    models, so those events wait for `--rescore`. None otherwise. Two index probes."""
    from sentiment_pipeline.sentiment.store import open_store

    store: Any = open_store(url)
    try:
        with store._guard():
            return _other_model_note(
                lambda sql, p: store._conn.execute(sql, p).fetchall(),
                url.backend,
                model,
                model_id,
            )
    finally:
        store.close()


def _other_model_note(
    rows: Callable[[str, list[Any]], list[Any]], dialect: str, model: str, model_id: str
) -> str | None:
    true = "true" if dialect == "postgresql" else "1"
    mark = "%s" if dialect == "postgresql" else "?"
    if rows(f"SELECT 1 FROM sentiment_scores WHERE model = {mark} LIMIT 1", [model_id]):
        return None
    if not rows(f"SELECT 1 FROM raw_events WHERE processed = {true} LIMIT 1", []):
        return None
    return (
        f"events already processed (scored by another model) have no {model_id} score: "
        f"`sentpipe sentiment score --model {model} --rescore` scores them too "
        "(limit it with --since)"
    )
