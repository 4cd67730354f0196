"""Create run_metrics: one row per finished run of a command, with the figures of its
Prometheus metrics file, so a dashboard reads what runs did (spooled rows, dead letters,
events stored, exit codes) from the database.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

One row per (`command`, `finished_at`):
- `command`: the metrics label (`scrape`, `scrape_hn`, `sentiment_score`, `refresh`,
  `refresh_hn`, `ingest_ndjson`, `ingest_reddit_dump`);
- `started_at`, `finished_at`: when the run started and ended (UTC);
- `duration_seconds`, `exit_code` (0 = success);
- `figures`: the run's `RunFigures` as JSON (JSONB on PostgreSQL): `counters` {name in
  `service.metrics.COUNTERS`: value}, `per_target`, `target_label`, `per_file`,
  `per_group`, `per_topic`, `topic_links`; only counts and names, never settings.

Written by `service.record` after each run (a database that is down is skipped with a
warning). A plain table on every backend; `ix_run_metrics_finished_at` serves the
dashboards' time ranges over every command. Empty after the upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_metrics",
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("command", "finished_at", name="pk_run_metrics"),
    )
    op.create_index("ix_run_metrics_finished_at", "run_metrics", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_run_metrics_finished_at", table_name="run_metrics")
    op.drop_table("run_metrics")
