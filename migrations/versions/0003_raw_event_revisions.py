"""Create raw_event_revisions (a TimescaleDB hypertable where raw_events is one).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

One narrow row per observation of a stored item by `sentpipe refresh reddit`: the item's
key (`id`, `occurred_at`, as in raw_events), when it was seen (`observed_at`), its
`score`, `num_comments` and `upvote_ratio` (NULL where Reddit has none), its `state`
(live / edited / deleted / removed / unavailable) and `text_hash` (md5 hex of title,
selftext and body; NULL when unavailable). The 1-2 KB raw rows are never rewritten for
score changes; these rows are the trajectories. On TimescaleDB the table is a hypertable
on `occurred_at` (the item's time, so a refresh of young items touches recent chunks
only) with the chunk interval of `raw_events`; elsewhere a plain table with an index on
`occurred_at`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
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
        "raw_event_revisions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("num_comments", sa.Integer(), nullable=True),
        sa.Column("upvote_ratio", sa.Float(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", "occurred_at", "observed_at", name="pk_raw_event_revisions"),
    )
    if chunk_interval is not None:
        op.execute(
            sa.text(
                "SELECT create_hypertable('raw_event_revisions', 'occurred_at', "
                "chunk_time_interval => CAST(:interval AS interval))"
            ).bindparams(interval=chunk_interval)
        )
    else:
        op.create_index(
            "raw_event_revisions_occurred_at_idx",
            "raw_event_revisions",
            [sa.text("occurred_at DESC")],
        )


def downgrade() -> None:
    op.drop_table("raw_event_revisions")
