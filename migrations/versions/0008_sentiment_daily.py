"""Create sentiment_daily: per day, container, model, language and topic, the counts and
sums a sentiment report needs, so reports over years read thousands of rows, not millions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

One row per (`model`, `topic`, `via`, `day`, `source`, `source_id`, `language`):
- `day`: the UTC date of the events' `occurred_at`;
- `language`: the scores' language, `''` for scores stored before detection (NULL);
- `topic`, `via`: `('', '')` counts every scored event once; `(name, 'any')` the events
  linked to topic `name` by any link, `(name, 'text')` those linked by their own text;
- `events`, `positive`, `neutral`, `negative`: how many scores, and how many of each
  label; `compound_sum`, `compound_sumsq`: the sum of compound and of its square.

Every writer of sentiment_scores or event_topics adjusts it in its own transaction
(`sentiment.rollup`); `sentpipe sentiment rollup --rebuild` recomputes it. A plain
table on every backend (no continuous aggregates). The upgrade fills it from the
scores already stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ("model", "topic", "via", "day", "source", "source_id", "language")
_LABELS = (
    "count(*), "
    "sum(CASE WHEN label = 'positive' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN label = 'neutral' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN label = 'negative' THEN 1 ELSE 0 END), "
    "sum(compound), sum(compound * compound)"
)


def _fill(dialect: str) -> str:
    """The rollup of every stored score (a frozen copy of `sentiment.rollup`'s rebuild)."""
    day = (
        "CAST(s.occurred_at AT TIME ZONE 'UTC' AS date)"
        if dialect == "postgresql"
        else "substr(s.occurred_at, 1, 10)"
    )
    scored = (
        f"SELECT s.model, '' AS topic, '' AS via, {day} AS day, s.source, s.source_id, "
        "coalesce(s.language, '') AS language, s.label, s.compound FROM sentiment_scores s "
        f"UNION ALL SELECT s.model, t.topic, 'any', {day}, s.source, s.source_id, "
        "coalesce(s.language, ''), s.label, s.compound FROM sentiment_scores s "
        "JOIN event_topics t ON t.id = s.id AND t.occurred_at = s.occurred_at "
        f"UNION ALL SELECT s.model, t.topic, 'text', {day}, s.source, s.source_id, "
        "coalesce(s.language, ''), s.label, s.compound FROM sentiment_scores s "
        "JOIN event_topics t ON t.id = s.id AND t.occurred_at = s.occurred_at "
        "WHERE t.via = 'text'"
    )
    columns = ", ".join(KEY)
    return (
        f"INSERT INTO sentiment_daily ({columns}, events, positive, neutral, negative, "
        f"compound_sum, compound_sumsq) SELECT {columns}, {_LABELS} FROM ({scored}) x "
        f"GROUP BY {columns}"
    )


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "sentiment_daily",
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("via", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("positive", sa.BigInteger(), nullable=False),
        sa.Column("neutral", sa.BigInteger(), nullable=False),
        sa.Column("negative", sa.BigInteger(), nullable=False),
        sa.Column("compound_sum", sa.Float(), nullable=False),
        sa.Column("compound_sumsq", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name="pk_sentiment_daily"),
    )
    op.execute(_fill(bind.dialect.name))


def downgrade() -> None:
    op.drop_table("sentiment_daily")
