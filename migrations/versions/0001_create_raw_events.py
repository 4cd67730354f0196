"""Create raw_events (a TimescaleDB hypertable where the extension is available).

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Keys:
- Primary key (id, occurred_at): the Reddit fullname plus the partitioning column, which
  TimescaleDB requires in every unique index.
- Unique (source, source_id, event_type, id, occurred_at): `source_id` is NOT NULL.
  A NULL would make two otherwise equal rows distinct and defeat the constraint. We chose
  NOT NULL over `NULLS NOT DISTINCT` because it behaves the same on PostgreSQL < 15 and on
  SQLite (which has no NULLS NOT DISTINCT); a source without a natural sub-key uses its own
  name as `source_id`.
- `occurred_at` index: TimescaleDB creates `raw_events_occurred_at_idx` (occurred_at DESC)
  with the hypertable; we create the same index by that name only where it does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_CHUNK_INTERVAL = "7 days"


def _timescale_available(bind: sa.Connection) -> bool:
    if bind.dialect.name != "postgresql":
        return False
    query = sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'")
    return bool(bind.execute(query).scalar())


def upgrade() -> None:
    bind = op.get_bind()
    attributes = context.config.attributes
    use_timescale = attributes.get("use_timescale")
    if use_timescale is None:
        use_timescale = _timescale_available(bind)
    chunk_interval = attributes.get("chunk_interval") or DEFAULT_CHUNK_INTERVAL

    payload_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.create_table(
        "raw_events",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("payload", payload_type, nullable=False),
        sa.Column(
            "ingested_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("processed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", "occurred_at", name="pk_raw_events"),
        sa.UniqueConstraint(
            "source",
            "source_id",
            "event_type",
            "id",
            "occurred_at",
            name="uq_raw_events_source_source_id_event_type_id_occurred_at",
        ),
    )
    if use_timescale:
        op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        op.execute(
            sa.text(
                "SELECT create_hypertable('raw_events', 'occurred_at', "
                "chunk_time_interval => CAST(:interval AS interval))"
            ).bindparams(interval=chunk_interval)
        )
    else:
        op.create_index("raw_events_occurred_at_idx", "raw_events", [sa.text("occurred_at DESC")])
    op.create_index("ix_raw_events_source_source_id", "raw_events", ["source", "source_id"])
    op.create_index(
        "ix_raw_events_processed_occurred_at",
        "raw_events",
        ["processed", "occurred_at"],
        postgresql_where=sa.text("processed = FALSE"),
        sqlite_where=sa.text("processed = FALSE"),
    )


def downgrade() -> None:
    op.drop_table("raw_events")
