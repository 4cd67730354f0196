"""Create collection_marks (the high-water mark of each collection target's last
completed walk), seeded from what is stored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

One row per (`source`, `target`, `kind`): for `sentpipe scrape reddit` the source is
`reddit`, the target a subreddit's source id (lower-cased name) and the kind
`submission`; `mark` is the newest post time of the target's last walk that completed
(listing and comment trees, every record durable), `updated_at` when it was saved. A
`new` listing pages back to the mark minus the overlap; stored posts newer than it were
stored by a walk that was cut short. A plain table on every backend (a few rows per
target, never a hypertable). The upgrade seeds one `submission` mark per stored Reddit
source id, the newest stored submission's time (what the scraper used as its mark up to
0003), so an upgraded database does not walk every listing again; a new database has no
marks.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Now as each backend stores times (SQLite: the UTC text `YYYY-MM-DD HH:MM:SS.ffffff`).
_NOW = {
    "postgresql": "now()",
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'",
}


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "collection_marks",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("mark", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("source", "target", "kind", name="pk_collection_marks"),
    )
    now = _NOW.get(bind.dialect.name, "CURRENT_TIMESTAMP")
    op.execute(
        sa.text(
            "INSERT INTO collection_marks (source, target, kind, mark, updated_at) "
            f"SELECT source, source_id, 'submission', MAX(occurred_at), {now} "
            "FROM raw_events WHERE source = 'reddit' AND event_type = 'submission' "
            "GROUP BY source, source_id"
        )
    )


def downgrade() -> None:
    op.drop_table("collection_marks")
