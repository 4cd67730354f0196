"""`sentpipe ingest ndjson`, `sentpipe ingest reddit-dump` and `sentpipe spool replay`:
feed records through the core."""

from __future__ import annotations

import time
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentiment_pipeline.cli.console import print_json
from sentiment_pipeline.cli.options import AsJson, Quiet
from sentiment_pipeline.cli.service import MetricsFile, Outcome, serve
from sentiment_pipeline.cli.state import settings_from

if TYPE_CHECKING:
    from sentiment_pipeline.backfill import BackfillResult, DumpProgress

ingest_app = typer.Typer(help="Load records that are already in event shape.", no_args_is_help=True)
spool_app = typer.Typer(
    help="Inspect and replay batches the database could not take.", no_args_is_help=True
)

SinkOption = Annotated[
    list[str] | None,
    typer.Option(
        "--sink",
        help="Sink to write to (repeatable): database, timescale, sqlite, "
        "csv, memory. Default: SENTPIPE_SINKS or database + csv.",
    ),
]


@ingest_app.command("ndjson")
def ndjson(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="NDJSON file, or - for standard input.")],
    sink: SinkOption = None,
    dry_run: Annotated[bool, typer.Option(help="Validate only; write nothing.")] = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
    metrics_file: MetricsFile = None,
) -> None:
    """Ingest one JSON object per line ({id, occurred_at, source, source_id, event_type,
    payload}) through validation, dead letters and the configured sinks. zstd, gzip,
    bzip2 and xz input is decompressed; what is not NDJSON is refused (exit 2)."""
    from sentiment_pipeline.cli.render import ProgressReporter, render_result
    from sentiment_pipeline.ingest import ingest_ndjson
    from sentiment_pipeline.service import figures_from_run

    settings = settings_from(ctx, sinks=sink)

    def run_once(_: Any) -> Outcome:
        with ProgressReporter("ingesting", enabled=not (quiet or as_json)) as progress:
            result = ingest_ndjson(settings, path, dry_run=dry_run, on_progress=progress)
        render_result(result, as_json=as_json, quiet=quiet)
        return Outcome(int(result.exit_code), figures_from_run(result))

    serve(
        ctx,
        "ingest_ndjson",
        run_once,
        every=None,
        jitter=None,
        metrics_file=metrics_file,
        metrics_dir=settings.metrics_dir,
        quiet=quiet,
        database=None if dry_run else settings.database,  # a dry run records nothing
    )


class DumpKind(StrEnum):
    submission = "submission"
    comment = "comment"


@ingest_app.command("reddit-dump")
def reddit_dump(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Dump files (RS_/RC_YYYY-MM.zst, <name>_submissions.zst, "
            "<name>_comments.zst, .bz2/.xz/.gz, .ndjson/.jsonl), or - for standard input.",
            show_default=False,
        ),
    ],
    kind: Annotated[
        DumpKind | None,
        typer.Option(
            help="Treat every record as this kind (default: from the record, else the file name)."
        ),
    ] = None,
    subreddit: Annotated[
        list[str] | None,
        typer.Option(
            "--subreddit",
            "-s",
            metavar="NAME",
            help="Keep only this subreddit (repeatable, any case, r/ or not).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(metavar="WHEN", help="Keep records created at or after: 2024-01-31, ISO, 7d."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="WHEN", help="Keep records created before this.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Load at most this many records (after filters) this run."),
    ] = None,
    restart: Annotated[
        bool, typer.Option(help="Ignore the checkpoints and start every file from its top.")
    ] = False,
    sink: SinkOption = None,
    dry_run: Annotated[bool, typer.Option(help="Validate only; write nothing.")] = False,
    progress_every: Annotated[
        float,
        typer.Option(
            min=1, metavar="SECONDS", help="Seconds between progress lines when not on a terminal."
        ),
    ] = 30.0,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Wait for another run loading the same file instead of exit 4."
        ),
    ] = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
    metrics_file: MetricsFile = None,
) -> None:
    """Backfill from Pushshift / Arctic Shift dumps (NDJSON, one Reddit object per line;
    zstd, gzip, bzip2, xz or plain) into the same deduplicated table as `scrape reddit`.
    Resumable: a checkpoint per file in the data dir; run the same command again to
    continue after a stop. One run loads a file at a time (exit 4, or --wait)."""
    from sentiment_pipeline.backfill import BackfillOptions, backfill
    from sentiment_pipeline.db.filters import subreddit_keys
    from sentiment_pipeline.sources.reddit_dump import DumpFilter
    from sentiment_pipeline.timeparse import parse_moment

    settings = settings_from(ctx, sinks=sink)
    options = BackfillOptions(
        kind=kind.value if kind is not None else None,
        filters=DumpFilter(
            frozenset(subreddit_keys(subreddit or ())),
            parse_moment(since, "--since") if since is not None else None,
            parse_moment(until, "--until") if until is not None else None,
        ),
        limit=limit,
        restart=restart,
        dry_run=dry_run,
        wait_for_lock=wait,
    )
    command = "ingest_reddit_dump"

    def run_once(_: Any) -> Outcome:
        from sentiment_pipeline.service import BackfillGauges, figures_from_run, metrics_path
        from sentiment_pipeline.sources.reddit_dump.records import SOURCE as DUMP_SOURCE

        path = metrics_path(command, metrics_file, settings.metrics_dir)
        with (
            BackfillGauges(path, command, time.time()) as gauges,
            DumpProgressReporter(not (quiet or as_json), progress_every) as progress,
        ):
            outcome = backfill(settings, paths, options, on_progress=progress, on_checkpoint=gauges)
        render_backfill(outcome, as_json=as_json, quiet=quiet)
        figures = figures_from_run(outcome.total, source=DUMP_SOURCE)  # per subreddit
        figures.per_file = gauges.per_file()
        return Outcome(int(outcome.exit_code), figures)

    serve(
        ctx,
        command,
        run_once,
        every=None,
        jitter=None,
        metrics_file=metrics_file,
        metrics_dir=settings.metrics_dir,
        quiet=quiet,
        database=None if dry_run else settings.database,  # a dry run records nothing
    )


def render_backfill(outcome: BackfillResult, as_json: bool, quiet: bool) -> None:
    """`--json`: `{"files": […], "total": {…}, "exit_code"}`; else a line per file and
    the total run summary."""

    from sentiment_pipeline.cli.console import log
    from sentiment_pipeline.cli.render import render_result

    if as_json:
        print_json(outcome.to_dict())
        return
    if not quiet:
        for result in outcome.files:
            if result.already_complete:
                state = "already loaded (--restart loads it again)"
            else:
                state = "complete" if result.complete else "stopped (run again to continue)"
            log(
                f"{result.path}: {result.lines_done:,} lines done, {state}; "
                f"{result.inserted:,} new, {result.duplicates:,} duplicates, "
                f"{result.invalid:,} dead-lettered, {result.filtered:,} filtered"
            )
    render_result(outcome.total, quiet=quiet)


class DumpProgressReporter:
    """A rich bar per file by compressed bytes read (lines/s, ETA) on a terminal; a
    timestamped line every `interval` seconds otherwise."""

    def __init__(self, enabled: bool, interval: float) -> None:
        self.enabled = enabled
        self.interval = interval
        self._bar: Any = None
        self._tasks: dict[int, Any] = {}
        self._started: dict[int, float] = {}
        self._last_line = time.monotonic()

    def __enter__(self) -> DumpProgressReporter:
        from sentiment_pipeline.cli.console import is_terminal

        if self.enabled and is_terminal():
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            from sentiment_pipeline.cli.console import err_console

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[lines]:,} lines, {task.fields[rate]:,.0f} lines/s"),
                TimeRemainingColumn(),
                console=err_console,
            )
            self._bar.__enter__()
        return self

    def __call__(self, progress: DumpProgress) -> None:
        if not self.enabled:
            return
        started = self._started.setdefault(progress.index, time.monotonic())
        walked = progress.result.lines_read
        rate = walked / max(time.monotonic() - started, 1e-6)
        if self._bar is not None:
            task = self._tasks.get(progress.index)
            if task is None:
                name = progress.path if progress.path != "-" else "stdin"
                task = self._tasks[progress.index] = self._bar.add_task(
                    f"[{progress.index}/{progress.count}] {name}",
                    total=progress.bytes_total,
                    lines=0,
                    rate=0.0,
                )
            self._bar.update(task, completed=progress.bytes_read, lines=progress.lines, rate=rate)
            return
        now = time.monotonic()
        if progress.finished or now - self._last_line >= self.interval:
            from sentiment_pipeline.cli.console import log

            self._last_line = now
            share = (
                f" ({100 * progress.bytes_read / progress.bytes_total:.1f}% of the file)"
                if progress.bytes_total
                else ""
            )
            log(
                f"{progress.path}: {progress.lines:,} lines{share}, {rate:,.0f} lines/s, "
                f"{progress.result.inserted:,} new, {progress.result.duplicates:,} duplicates"
            )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, value, traceback)


@spool_app.command("replay")
def replay(
    ctx: typer.Context,
    sink: SinkOption = None,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Write spooled batches to the database and give the CSV sink the rows interrupted
    runs left out of it (each run also does this first)."""
    from sentiment_pipeline.cli.render import render_result
    from sentiment_pipeline.pipeline import replay_spool

    result = replay_spool(settings_from(ctx, sinks=sink))
    render_result(result, as_json=as_json, quiet=quiet)
    raise typer.Exit(int(result.exit_code))


@spool_app.command("status")
def spool_status(ctx: typer.Context, as_json: AsJson = False) -> None:
    """How many batches and records wait in the spool, and how many rows of interrupted
    runs the CSV sink may still lack (the next run writes them, or `spool replay`)."""

    from sentiment_pipeline.cli.console import out_console
    from sentiment_pipeline.pipeline.journal import owed_rows
    from sentiment_pipeline.pipeline.spool import Spool

    settings = settings_from(ctx)
    spool = Spool(settings.spool_dir)
    files = spool.files()
    data = {
        "directory": str(spool.directory),
        "files": len(files),
        "records": spool.pending_records(),
        "journal_rows": owed_rows(settings.journal_dir),
    }
    if as_json:
        print_json(data)
        return
    out_console.print(
        f"{data['records']:,} records in {data['files']} spool files under {data['directory']}"
    )
    if data["journal_rows"]:
        out_console.print(
            f"{data['journal_rows']:,} rows of interrupted runs to check against the CSV sink "
            f"(journals under {settings.journal_dir}): the next run writes those it lacks"
        )
