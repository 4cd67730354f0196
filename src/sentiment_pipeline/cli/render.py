"""Render a RunResult: a rich table on a terminal, JSON for machines, log lines for cron."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from sentiment_pipeline.cli.console import err_console, is_terminal, log, out_console, print_json

__all__ = ["ProgressReporter", "catch_up_first", "render_result"]


def render_result(result: Any, as_json: bool = False, quiet: bool = False) -> None:
    from rich.table import Table

    if as_json:
        print_json(result.to_dict())
        return
    for warning in result.warnings:
        log(f"Warning: {warning}")
    for error in result.errors:
        log(f"Error: {error}")
    if result.spooled:
        log(
            f"Warning: {result.spooled:,} records are spooled in the data dir; the next run "
            "(or `sentpipe spool replay`) writes them once the database is back."
        )
    if quiet:
        return
    summary = (
        f"fetched {result.fetched:,}, valid {result.valid:,}, invalid {result.invalid:,} "
        f"(dead-lettered), sanitized {result.sanitized:,}, inserted {result.inserted:,}, "
        f"duplicates {result.duplicates:,}, spooled {result.spooled:,}"
        + (f", replayed {result.replayed:,} from the spool" if result.replayed else "")
        + (f", repaired {result.repaired:,} rows the CSV sink missed" if result.repaired else "")
        + f" in {result.duration:.1f} s"
        + (" (dry run: nothing written)" if result.dry_run else "")
    )
    if result.stopped_early:
        summary += f"; stopped early: {result.stop_reason}"
    if not is_terminal():
        log(summary)
        return
    table = Table(
        "source_id", "fetched", "valid", "invalid", "inserted", "duplicates", title="sentpipe run"
    )
    for source_id, counts in sorted(result.per_source_id.items()):
        table.add_row(
            source_id,
            *(
                f"{n:,}"
                for n in (
                    counts.fetched,
                    counts.valid,
                    counts.invalid,
                    counts.inserted,
                    counts.duplicates,
                )
            ),
        )
    if result.per_source_id:
        out_console.print(table)
    err_console.print(summary)


def catch_up_first(settings: Any, quiet: bool = False) -> Any:
    """For a command that writes to the database without running the pipeline (such as
    `sentiment score`): replay the spool and repair the CSV sink first, when there is
    anything to do (`pipeline.catch_up_pending`); its warnings and errors are logged
    (on standard error). Returns the catch-up's `RunResult`, or None when there was none."""
    from sentiment_pipeline.pipeline import catch_up_pending, replay_spool

    if not catch_up_pending(settings):
        return None
    result = replay_spool(settings)
    for warning in result.warnings:
        log(f"Warning: {warning}")
    for error in result.errors:
        log(f"Error: {error}")
    if not quiet and (result.replayed or result.repaired or result.spooled):
        log(
            f"caught up first: replayed {result.replayed:,} spooled records, repaired "
            f"{result.repaired:,} rows the CSV sink missed, {result.spooled:,} still spooled"
        )
    return result


class ProgressReporter:
    """A live counter on a terminal; a log line every `interval` seconds otherwise."""

    def __init__(self, label: str, enabled: bool = True, interval: float = 30.0) -> None:
        self.label = label
        self.enabled = enabled
        self.interval = interval
        self._last = time.monotonic()
        self._status: Any = None

    def __enter__(self) -> ProgressReporter:
        if self.enabled and is_terminal():
            self._status = err_console.status(f"{self.label}…")
            self._status.__enter__()
        return self

    def __call__(self, result: Any) -> None:
        if not self.enabled:
            return
        text = (
            f"{self.label}: {result.fetched:,} fetched, {result.inserted:,} new, "
            f"{result.duplicates:,} duplicates, {result.invalid:,} invalid"
        )
        if self._status is not None:
            self._status.update(text)
        elif time.monotonic() - self._last >= self.interval:
            self._last = time.monotonic()
            log(text)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._status is not None:
            self._status.__exit__(kind, value, traceback)
