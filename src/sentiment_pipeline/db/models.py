"""The tables as typed SQLAlchemy 2 mappings: the Alembic autogenerate target.

The migrations in `migrations/versions/` are the source of truth for DDL; they add what the
ORM cannot express (the TimescaleDB hypertable and reuse of its `occurred_at` index).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "TABLE_NAME",
    "Base",
    "CollectionMarkORM",
    "EventTopicORM",
    "RawEventORM",
    "RawEventRevisionORM",
    "RunMetricsORM",
    "SentimentDailyORM",
    "SentimentScoreORM",
    "TopicMatchORM",
]

TABLE_NAME = "raw_events"
OCCURRED_AT_INDEX = "raw_events_occurred_at_idx"  # the name TimescaleDB gives its own index

NAMING = {
    "pk": "pk_%(table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
}

PayloadType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class RawEventORM(Base):
    """One collected event (a Reddit submission or comment, or any other source's record)."""

    __tablename__ = TABLE_NAME

    id: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    source_id: Mapped[str] = mapped_column(Text, nullable=False)
    event_type: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(PayloadType, nullable=False)
    ingested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    processed: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        PrimaryKeyConstraint("id", "occurred_at", name="pk_raw_events"),
        UniqueConstraint(
            "source",
            "source_id",
            "event_type",
            "id",
            "occurred_at",
            name="uq_raw_events_source_source_id_event_type_id_occurred_at",
        ),
        Index("ix_raw_events_source_source_id", "source", "source_id"),
        Index(
            "ix_raw_events_processed_occurred_at",
            "processed",
            "occurred_at",
            postgresql_where=text("processed = FALSE"),
            sqlite_where=text("processed = FALSE"),
        ),
    )


# Declared on the column (not as text) so autogenerate compares it on every backend.
Index(OCCURRED_AT_INDEX, RawEventORM.occurred_at.desc())


class SentimentScoreORM(Base):
    """One model's sentiment score for one event (migrations 0002, 0007; see sentiment/).
    `pos`/`neu`/`neg` are VADER's shares (NULL for other models), `probabilities` a
    classifier's per-class probabilities (NULL for VADER), `language` the text's."""

    __tablename__ = "sentiment_scores"

    id: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    source_id: Mapped[str] = mapped_column(Text, nullable=False)
    event_type: Mapped[str] = mapped_column(Text, nullable=False)
    compound: Mapped[float] = mapped_column(Float, nullable=False)
    pos: Mapped[float | None] = mapped_column(Float, nullable=True)
    neu: Mapped[float | None] = mapped_column(Float, nullable=True)
    neg: Mapped[float | None] = mapped_column(Float, nullable=True)
    label: Mapped[str] = mapped_column(Text, nullable=False)
    text_chars: Mapped[int] = mapped_column(Integer, nullable=False)
    language: Mapped[str | None] = mapped_column(Text, nullable=True)
    probabilities: Mapped[dict[str, float] | None] = mapped_column(PayloadType, nullable=True)
    scored_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (
        PrimaryKeyConstraint("id", "occurred_at", "model", name="pk_sentiment_scores"),
        Index(
            "ix_sentiment_scores_model_source_id_occurred_at", "model", "source_id", "occurred_at"
        ),
    )


# TimescaleDB makes this index with the hypertable; the migration makes it elsewhere.
Index("sentiment_scores_occurred_at_idx", SentimentScoreORM.occurred_at.desc())


class RawEventRevisionORM(Base):
    """One observation of a stored item by `sentpipe refresh` (migration 0003; see refresh/).

    `state` is live, edited, deleted, removed or unavailable; `text_hash` the md5 hex of
    title, selftext and body joined by U+001F (None when unavailable)."""

    __tablename__ = "raw_event_revisions"

    id: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    num_comments: Mapped[int | None] = mapped_column(Integer, nullable=True)
    upvote_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    state: Mapped[str] = mapped_column(Text, nullable=False)
    text_hash: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        PrimaryKeyConstraint("id", "occurred_at", "observed_at", name="pk_raw_event_revisions"),
    )


# TimescaleDB makes this index with the hypertable; the migration makes it elsewhere.
Index("raw_event_revisions_occurred_at_idx", RawEventRevisionORM.occurred_at.desc())


class CollectionMarkORM(Base):
    """The high-water mark of one collection target (migration 0004; see `db.queries`).

    For `sentpipe scrape reddit`: `source` "reddit", `target` the subreddit's source id,
    `kind` "submission", `mark` the newest post time of the target's last completed walk.
    A plain table on every backend."""

    __tablename__ = "collection_marks"

    source: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    mark: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (PrimaryKeyConstraint("source", "target", "kind", name="pk_collection_marks"),)


class EventTopicORM(Base):
    """One event's membership of one topic (migration 0005; see topics/): `via` is
    `text` (its own text matches) or `post` (a comment whose post matches)."""

    __tablename__ = "event_topics"

    id: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    topic: Mapped[str] = mapped_column(Text, nullable=False)
    via: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint("id", "occurred_at", "topic", name="pk_event_topics"),
        Index("ix_event_topics_topic_occurred_at", "topic", "occurred_at"),
    )


# TimescaleDB makes this index with the hypertable; the migration makes it elsewhere.
Index("event_topics_occurred_at_idx", EventTopicORM.occurred_at.desc())


class TopicMatchORM(Base):
    """The state of one topic's re-match by `sentpipe topics match` (migration 0005)."""

    __tablename__ = "topic_matches"

    topic: Mapped[str] = mapped_column(Text)
    definition: Mapped[str] = mapped_column(Text, nullable=False)
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    position_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    position_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (PrimaryKeyConstraint("topic", name="pk_topic_matches"),)


class SentimentDailyORM(Base):
    """Per UTC day, container, model, language and topic: the counts and sums a sentiment
    report needs (migration 0008; see `sentiment.rollup`). `language` is `''` for scores
    stored before detection; `(topic, via)` is `('', '')` for every scored event once,
    `(name, 'any')` / `(name, 'text')` for the events linked to topic `name` by any link /
    by their own text. Adjusted by every writer of scores and topic links."""

    __tablename__ = "sentiment_daily"

    model: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(Text)
    via: Mapped[str] = mapped_column(Text)
    day: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text)
    source_id: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(Text)
    events: Mapped[int] = mapped_column(BigInteger, nullable=False)
    positive: Mapped[int] = mapped_column(BigInteger, nullable=False)
    neutral: Mapped[int] = mapped_column(BigInteger, nullable=False)
    negative: Mapped[int] = mapped_column(BigInteger, nullable=False)
    compound_sum: Mapped[float] = mapped_column(Float, nullable=False)
    compound_sumsq: Mapped[float] = mapped_column(Float, nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint(
            "model",
            "topic",
            "via",
            "day",
            "source",
            "source_id",
            "language",
            name="pk_sentiment_daily",
        ),
    )


class RunMetricsORM(Base):
    """One finished run of a command (migration 0009; see `service.record`): when it
    started and finished, its duration (seconds) and exit code, and `figures`, the run's
    `RunFigures` as JSON (`counters`, `per_target`, …: counts and names only, never
    settings or credentials). A plain table on every backend, read by the dashboards."""

    __tablename__ = "run_metrics"

    command: Mapped[str] = mapped_column(Text)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    duration_seconds: Mapped[float] = mapped_column(Float, nullable=False)
    exit_code: Mapped[int] = mapped_column(Integer, nullable=False)
    figures: Mapped[dict[str, Any]] = mapped_column(PayloadType, nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint("command", "finished_at", name="pk_run_metrics"),
        Index("ix_run_metrics_finished_at", "finished_at"),
    )
