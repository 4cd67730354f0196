"""Scored / skipped / waiting counts for `sentpipe stats` (one grouped query each).

- `scored`: rows in sentiment_scores for the model;
- `skipped`: processed events with no score from any model (no text to score);
- `waiting`: events not processed yet (the same for every model).
A database without sentiment_scores (not upgraded yet) gives an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError

__all__ = ["ModelCounts", "sentiment_counts"]


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


def sentiment_counts(url: DatabaseURL) -> list[ModelCounts]:
    """One entry per model that has scores (or `vader` with 0 when none has)."""
    from sentiment_pipeline.sentiment.scorers import model_id_for
    from sentiment_pipeline.sentiment.store import PostgresStore, SQLiteStore

    try:
        store: Any = PostgresStore(url) if url.backend == "postgresql" else SQLiteStore(url)
    except ConfigError:
        return []
    try:
        conn = store._conn
        false = "false" if url.backend == "postgresql" else "FALSE"
        per_model = conn.execute(
            "SELECT model, count(*) FROM sentiment_scores GROUP BY model ORDER BY model"
        ).fetchall()
        waiting = conn.execute(
            f"SELECT count(*) FROM raw_events WHERE processed = {false}"
        ).fetchone()[0]
        skipped = conn.execute(
            f"SELECT count(*) FROM raw_events r WHERE processed <> {false} AND NOT EXISTS "
            "(SELECT 1 FROM sentiment_scores s WHERE s.id = r.id "
            "AND s.occurred_at = r.occurred_at)"
        ).fetchone()[0]
        if url.backend == "postgresql":
            conn.rollback()
    finally:
        store.close()
    models = [(str(m), int(n)) for m, n in per_model] or [(model_id_for("vader"), 0)]
    return [ModelCounts(m, n, int(skipped), int(waiting)) for m, n in models]
