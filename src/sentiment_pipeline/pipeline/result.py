"""RunResult: what one pipeline run did, for people (rich table) and machines (--json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sentiment_pipeline.errors import ExitCode

__all__ = ["RunResult", "SourceCounts"]


@dataclass
class SourceCounts:
    fetched: int = 0
    valid: int = 0
    invalid: int = 0
    inserted: int = 0
    duplicates: int = 0


@dataclass
class RunResult:
    fetched: int = 0
    valid: int = 0
    invalid: int = 0
    sanitized: int = 0
    inserted: int = 0
    duplicates: int = 0
    spooled: int = 0
    replayed: int = 0
    batches: int = 0
    per_source_id: dict[str, SourceCounts] = field(default_factory=dict)
    duration: float = 0.0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stopped_early: bool = False
    stop_reason: str | None = None
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def counts_for(self, source_id: str) -> SourceCounts:
        counts = self.per_source_id.get(source_id)
        if counts is None:
            counts = self.per_source_id[source_id] = SourceCounts()
        return counts

    @property
    def exit_code(self) -> ExitCode:
        """3 when rows wait in the spool (database unreachable), 1 on other failures."""
        if self.spooled:
            return ExitCode.UNREACHABLE
        if self.errors:
            return ExitCode.FAILURES
        return ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration"] = round(self.duration, 3)
        data["exit_code"] = int(self.exit_code)
        return data
