"""What each sentiment model produces: per-class probabilities, and the text's language.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

`sentiment_scores` gains
- `language` (text, NULL for scores stored before this revision): the code the offline
  detector gave the scored text (`sentiment.language`: `en`, `es`, …, `und`);
- `probabilities` (JSONB on PostgreSQL, JSON text on SQLite; NULL for VADER): a
  classifier's probability per class, `{"negative": 0.1, "neutral": 0.2, "positive": 0.7}`;
and `pos`, `neu`, `neg` become nullable: they are VADER's shares, which other models
do not have. Stored rows are unchanged. On SQLite the nullability change rebuilds the
table (Alembic batch mode); on PostgreSQL and TimescaleDB it is a catalogue change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARES = ("pos", "neu", "neg")


def upgrade() -> None:
    probabilities = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    with op.batch_alter_table("sentiment_scores") as batch:
        batch.add_column(sa.Column("language", sa.Text(), nullable=True))
        batch.add_column(sa.Column("probabilities", probabilities, nullable=True))
        for name in SHARES:
            batch.alter_column(name, existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM sentiment_scores WHERE pos IS NULL OR neu IS NULL OR neg IS NULL")
    with op.batch_alter_table("sentiment_scores") as batch:
        for name in SHARES:
            batch.alter_column(name, existing_type=sa.Float(), nullable=False)
        batch.drop_column("probabilities")
        batch.drop_column("language")
