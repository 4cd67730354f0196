"""Create sentiment_scores (a TimescaleDB hypertable where raw_events is one).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

One row per (event, model): `id` and `occurred_at` are the raw event's key, `model` the
scorer with its version (`vader-3.3.2`), so two models' scores coexist and a rescore by
the same model replaces its row (upsert on the primary key). `source`, `source_id` and
`event_type` are copied so the per-subreddit report never reads the 1–2 KB raw rows.
On TimescaleDB the table is a hypertable on `occurred_at` with the chunk interval of
`raw_events`; elsewhere a plain table with an index on (source_id, occurred_at).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _raw_events_chunk_interval(bind: sa.Connection) -> str | None:
    """The chunk interval of the raw_events hypertable, or None when it is not one."""
    if bind.dialect.name != "postgresql":
        return None
    installed = bind.execute(
        sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
    ).scalar()
    if not installed:
        return None
    row = bind.execute(
        sa.text(
            "SELECT time_interval::text FROM timescaledb_information.dimensions "
            "WHERE hypertable_name = 'raw_events' AND column_name = 'occurred_at'"
        )
    ).first()
    return None if row is None or row[0] is None else str(row[0])


def upgrade() -> None:
    bind = op.get_bind()
    chunk_interval = _raw_events_chunk_interval(bind)
    op.create_table(
        "sentiment_scores",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("compound", sa.Float(), nullable=False),
        sa.Column("pos", sa.Float(), nullable=False),
        sa.Column("neu", sa.Float(), nullable=False),
        sa.Column("neg", sa.Float(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("text_chars", sa.Integer(), nullable=False),
        sa.Column(
            "scored_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", "occurred_at", "model", name="pk_sentiment_scores"),
    )
    if chunk_interval is not None:
        op.execute(
            sa.text(
                "SELECT create_hypertable('sentiment_scores', 'occurred_at', "
                "chunk_time_interval => CAST(:interval AS interval))"
            ).bindparams(interval=chunk_interval)
        )
    else:
        op.create_index(
            "sentiment_scores_occurred_at_idx",
            "sentiment_scores",
            [sa.text("occurred_at DESC")],
        )
    op.create_index(
        "ix_sentiment_scores_model_source_id_occurred_at",
        "sentiment_scores",
        ["model", "source_id", "occurred_at"],
    )


def downgrade() -> None:
    op.drop_table("sentiment_scores")
