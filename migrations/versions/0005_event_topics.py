"""Create event_topics (which stored event belongs to which topic, and why) and
topic_matches (the state of each topic's re-match over stored events).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

`event_topics`: one row per (event, topic): `id` and `occurred_at` are the event's key
in raw_events, `topic` the topic's name, `via` why it belongs: `text` (its own title or
text matches the topic's query) or `post` (a comment whose post matches). An event may
belong to several topics. On TimescaleDB it is a hypertable on `occurred_at` with the
chunk interval of raw_events (so reports join chunk to chunk); elsewhere a plain table
with an `occurred_at` index. The primary key starts with `id`, which is how a comment
finds its post's topics; `(topic, occurred_at)` serves reports of one topic.

`topic_matches`: one row per topic `sentpipe topics match` has run for: the
`definition` (canonical query and scope) it matched with, the window's start `since`
(NULL: all history), the keyset position (`position_at`, `position_id`) of the last
batch done, and `finished_at` once the whole window is done (NULL: resumable).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
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
        "event_topics",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("via", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", "occurred_at", "topic", name="pk_event_topics"),
    )
    if chunk_interval is not None:
        op.execute(
            sa.text(
                "SELECT create_hypertable('event_topics', 'occurred_at', "
                "chunk_time_interval => CAST(:interval AS interval))"
            ).bindparams(interval=chunk_interval)
        )
    else:
        op.create_index(
            "event_topics_occurred_at_idx", "event_topics", [sa.text("occurred_at DESC")]
        )
    op.create_index("ix_event_topics_topic_occurred_at", "event_topics", ["topic", "occurred_at"])
    op.create_table(
        "topic_matches",
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("position_id", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("topic", name="pk_topic_matches"),
    )


def downgrade() -> None:
    op.drop_table("topic_matches")
    op.drop_table("event_topics")
