"""What every scrape job shares: the durable count its marks wait for, and the
source's report merged into the run's result when the source ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.pipeline.result import RunResult

__all__ = ["Durable", "SourceReport", "reported"]


class SourceReport(Protocol):
    """What a source tells its job when it ends (Reddit's `ScrapeReport`, HN's
    `HNReport`): warnings, failures (`<target>: <reason>`) and an early stop."""

    stopped_early: bool
    stop_reason: str | None

    @property
    def warnings(self) -> list[str]: ...
    @property
    def errors(self) -> list[str]: ...


@dataclass
class Durable:
    """The pipeline's `on_durable` count: how many of the run's valid events, in input
    order, every sink holds (or the spool does). Marks are saved only when it reaches
    the run's valid count."""

    count: int = 0

    def __call__(self, count: int) -> None:
        self.count = count


async def reported(
    records: AsyncIterator[dict[str, Any] | Rejected],
    result: RunResult,
    source: SourceReport,
) -> AsyncIterator[dict[str, Any] | Rejected]:
    """Pass the source's records on; when it ends, merge its report into the result:
    warnings, errors, the early stop."""
    async for record in records:
        yield record
    result.warnings.extend(source.warnings)
    result.errors.extend(source.errors)
    if source.stopped_early:
        result.stopped_early = True
        result.stop_reason = result.stop_reason or source.stop_reason
