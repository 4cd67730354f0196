"""RunResult: what one pipeline run did, for people (rich table) and machines (--json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sentiment_pipeline.errors import ExitCode

__all__ = ["RunResult", "SourceCounts"]


@dataclass
class SourceCounts:
    """Record counts of one `source_id` (e.g. one subreddit) in a run."""

    fetched: int = 0
    valid: int = 0
    invalid: int = 0
    inserted: int = 0
    duplicates: int = 0


@dataclass
class RunResult:
    """What one pipeline run did.

    Counts are records: `fetched` from the source, `valid`/`invalid` (dead-lettered),
    `internal_errors` (of the invalid, those whose validation raised: a bug to report),
    `sanitized` (text cleaned on validation), `inserted` (new in the leading sink),
    `duplicates`, `spooled` (waiting for the database), `replayed` (from the spool),
    `repaired` (rows a follower sink such as the CSV sink had missed, written to it from
    the database, see `pipeline.journal`);
    `batches` written; `per_source_id` the same per source id; `topic_links` the topic
    links the leading sink stored, per topic and `via` (`{"tesla": {"text": 3, "post":
    9}}`, see topics/); `duration` in seconds.
    `errors`/`warnings` are one-line messages; `stopped_early`/`stop_reason` tell a
    bounded or interrupted run. A job that runs the pipeline may subclass this to add
    its own report (see `extra`).
    """

    fetched: int = 0
    valid: int = 0
    invalid: int = 0
    internal_errors: int = 0
    sanitized: int = 0
    inserted: int = 0
    duplicates: int = 0
    spooled: int = 0
    replayed: int = 0
    repaired: int = 0
    batches: int = 0
    per_source_id: dict[str, SourceCounts] = field(default_factory=dict)
    topic_links: dict[str, dict[str, int]] = field(default_factory=dict)
    duration: float = 0.0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stopped_early: bool = False
    stop_reason: str | None = None
    dry_run: bool = False

    def counts_for(self, source_id: str) -> SourceCounts:
        counts = self.per_source_id.get(source_id)
        if counts is None:
            counts = self.per_source_id[source_id] = SourceCounts()
        return counts

    def count_links(self, topic: str, via: str, number: int = 1) -> None:
        """Add `number` stored links of `topic` by `via` to `topic_links`."""
        counts = self.topic_links.setdefault(topic, {})
        counts[via] = counts.get(via, 0) + number

    def absorb(self, other: RunResult) -> None:
        """Add `other`'s counts (numbers, per source id), errors and warnings to this
        result, and its early stop: the parts of one command (a catch-up before a job's
        own work, the files of a backfill) reported as one."""
        for item in fields(RunResult):
            if item.type in ("int", "float"):
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))
        for source_id, counts in other.per_source_id.items():
            into = self.counts_for(source_id)
            for item in fields(SourceCounts):
                setattr(into, item.name, getattr(into, item.name) + getattr(counts, item.name))
        for topic, by_via in other.topic_links.items():
            for via, number in by_via.items():
                self.count_links(topic, via, number)
        self.errors += other.errors
        self.warnings += other.warnings
        self.dry_run = self.dry_run or other.dry_run
        if other.stopped_early:
            self.stopped_early, self.stop_reason = True, other.stop_reason

    @property
    def exit_code(self) -> ExitCode:
        """3 when rows wait in the spool (database unreachable), 1 on other failures."""
        if self.spooled:
            return ExitCode.UNREACHABLE
        if self.errors:
            return ExitCode.FAILURES
        return ExitCode.OK

    @property
    def extra(self) -> dict[str, Any]:
        """Figures of the job that ran the pipeline, as plain values (`{}` here; the scrape
        job's result gives its per-subreddit report)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """Plain values for `--json`: every field above (`duration` rounded to ms), then
        `extra` and `exit_code`."""
        data = asdict(self)
        plain = {f.name: data[f.name] for f in fields(RunResult)}
        plain["duration"] = round(self.duration, 3)
        plain["extra"] = self.extra
        plain["exit_code"] = int(self.exit_code)
        return plain
