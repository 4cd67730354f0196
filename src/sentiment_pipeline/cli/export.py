"""`sentpipe export csv`: parse options, call the export core, report the row count."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from sentiment_pipeline.cli.boundary import silence_stdout
from sentiment_pipeline.cli.console import print_json
from sentiment_pipeline.cli.options import Sources
from sentiment_pipeline.cli.params import PlainValuesCommand, PlainValuesGroup
from sentiment_pipeline.cli.state import settings_from
from sentiment_pipeline.cli.topic_options import TopicNames, Via, ViaOption

app = typer.Typer(help="Export collected events.", no_args_is_help=True, cls=PlainValuesGroup)


class Layout(StrEnum):
    single = "single"
    partitioned = "partitioned"


def _filters(
    source: list[str] | None,
    source_id: list[str] | None,
    event_type: list[str] | None,
    since: str | None,
    until: str | None,
    processed: bool | None,
    topic: list[str] | None = None,
    via: str = "any",
) -> Any:
    from sentiment_pipeline.db.filters import EventFilter
    from sentiment_pipeline.errors import ConfigError
    from sentiment_pipeline.timeparse import parse_moment

    start = parse_moment(since, "--since") if since else None
    end = parse_moment(until, "--until") if until else None
    if start and end and start >= end:
        raise ConfigError("--since is not before --until", "--until is exclusive: widen it")
    return EventFilter(
        sources=tuple(source or ()),
        source_ids=tuple(source_id or ()),
        event_types=tuple(event_type or ()),
        since=start,
        until=end,
        processed=processed,
        topics=tuple(topic or ()),
        via=via,
    )


SourceIds = Annotated[
    list[str] | None,
    typer.Option(
        "--source-id",
        "--subreddit",
        metavar="NAME",
        help="Only this subreddit, in any case, r/ or not (repeatable).",
    ),
]
EventTypes = Annotated[
    list[str] | None, typer.Option(metavar="TYPE", help="Only this event type (repeatable).")
]
Since = Annotated[
    str | None,
    typer.Option(
        metavar="WHEN",
        help="From this UTC date/time, inclusive (2024-01-31, 2024-01-31T12:00Z, or 7d ago).",
    ),
]
Until = Annotated[
    str | None,
    typer.Option(
        metavar="WHEN",
        help="Before this UTC date/time, exclusive (a bare date means its midnight).",
    ),
]
Processed = Annotated[
    bool | None,
    typer.Option("--processed/--unprocessed", help="Only processed, or only unprocessed, events."),
]
Limit = Annotated[int | None, typer.Option(min=1, metavar="N", help="At most this many rows.")]
Columns = Annotated[
    str | None,
    typer.Option(
        metavar="COLS",
        help="Comma-separated columns, e.g. id,occurred_at,text (default: the 14 "
        "columns in docs/export.md, topics last; also subreddit, url, processed_at, payload, "
        "sentiment_compound, sentiment_label, language).",
    ),
]
SentimentModel = Annotated[
    str | None,
    typer.Option(
        metavar="MODEL",
        help="Whose scores fill the sentiment columns: vader, onnx:DIR or a "
        "stored model id such as vader-3.3.2 (default: vader's current id).",
    ),
]
Payload = Annotated[bool, typer.Option("--payload", help="Add the raw JSON payload column.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")]


@app.command("csv", cls=PlainValuesCommand)
def csv(
    ctx: typer.Context,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE|-|DIR",
            help="FILE (.csv, or .csv.gz compressed), - for "
            "standard output, or a folder with --layout partitioned.",
        ),
    ] = None,
    layout: Annotated[
        Layout,
        typer.Option(
            help="single: one file; partitioned: "
            "DIR/<source>/<source_id>/<YYYY-MM-DD>.csv like the CSV sink."
        ),
    ] = Layout.single,
    source: Sources = None,
    source_id: SourceIds = None,
    event_type: EventTypes = None,
    since: Since = None,
    until: Until = None,
    processed: Processed = None,
    topic: TopicNames = None,
    via: ViaOption = Via.any,
    limit: Limit = None,
    columns: Columns = None,
    sentiment_model: SentimentModel = None,
    payload: Payload = False,
    excel_safe: Annotated[
        bool,
        typer.Option(
            "--excel-safe",
            help="Prefix ' to cells starting with = + - @ tab or CR, so a spreadsheet shows "
            "them instead of running them as formulas (changes the data; off by default).",
        ),
    ] = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Export events as RFC 4180 CSV (UTF-8, header row, CRLF), oldest first."""
    import sys

    from sentiment_pipeline.cli.console import is_terminal, print_line
    from sentiment_pipeline.errors import ConfigError
    from sentiment_pipeline.export import count_events, export_csv, export_partitioned
    from sentiment_pipeline.export.columns import parse_columns

    names = parse_columns(columns, payload)
    _check_sentiment_model(names, sentiment_model)
    where = _filters(source, source_id, event_type, since, until, processed, topic, via.value)
    if out is None or (layout is Layout.partitioned and out == "-"):
        raise ConfigError(
            "no output given",
            "use -o FILE.csv, -o FILE.csv.gz, -o - for standard output, "
            "or --layout partitioned --out DIR",
        )
    to_stdout = out == "-"
    if not to_stdout:
        _check_csv_target(out, layout)  # before any query
    url = settings_from(ctx).database
    show_progress = not quiet and is_terminal()
    with _progress(show_progress) as progress:
        if show_progress:
            progress.total(count_events(url, where, limit))
        common: dict[str, Any] = {
            "excel_safe": excel_safe,
            "limit": limit,
            "force": force,
            "on_progress": progress.update if show_progress else None,
            "sentiment_model": sentiment_model,
        }
        if layout is Layout.partitioned:
            result = export_partitioned(url, Path(out), where, names, **common)
        elif to_stdout:
            try:
                result = export_csv(url, sys.stdout.buffer, where, names, **common)
            except BrokenPipeError:  # `| head`: the reader has all it wanted
                silence_stdout()
                raise typer.Exit(0) from None
        else:
            result = export_csv(url, Path(out), where, names, **common)
    _warn_if_empty(result.rows, where)
    if quiet:
        return
    where_to = (
        "standard output"
        if to_stdout
        else f"{len(result.files)} files under {out}"
        if layout is Layout.partitioned
        else out
    )
    print_line(f"Exported {result.rows:,} rows to {where_to}.", stderr=to_stdout)


@app.command("parquet", cls=PlainValuesCommand)
def parquet(
    ctx: typer.Context,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE|DIR",
            help="FILE.parquet, or a folder with --layout partitioned.",
        ),
    ] = None,
    layout: Annotated[
        Layout,
        typer.Option(
            help="single: one file; partitioned: "
            "DIR/source=S/container=ID/day=YYYY-MM-DD/part-0.parquet (hive-style)."
        ),
    ] = Layout.single,
    source: Sources = None,
    source_id: SourceIds = None,
    event_type: EventTypes = None,
    since: Since = None,
    until: Until = None,
    processed: Processed = None,
    topic: TopicNames = None,
    via: ViaOption = Via.any,
    limit: Limit = None,
    columns: Columns = None,
    sentiment_model: SentimentModel = None,
    payload: Payload = False,
    force: Force = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="The summary as JSON: rows, files, bytes.")
    ] = False,
    quiet: Quiet = False,
) -> None:
    """Export events as typed, zstd-compressed Parquet, oldest first.

    The columns, filters and order of export csv; types in docs/export.md. Needs
    pip install 'sentpipe[parquet]'.
    """

    from sentiment_pipeline.cli.console import is_terminal, print_line
    from sentiment_pipeline.errors import ConfigError
    from sentiment_pipeline.export import count_events
    from sentiment_pipeline.export.columns import parse_columns
    from sentiment_pipeline.export.parquet import check_target, export_parquet, require_pyarrow

    require_pyarrow()
    names = parse_columns(columns, payload)
    _check_sentiment_model(names, sentiment_model)
    if layout is Layout.partitioned and "container" in names:
        raise ConfigError(
            "the container column clashes with the partition key container= (the source id)",
            "select subreddit instead: the same column under its other name",
        )
    where = _filters(source, source_id, event_type, since, until, processed, topic, via.value)
    if out is None or out == "-":
        raise ConfigError(
            "no output file given (Parquet is not written to standard output)",
            "use -o FILE.parquet, or --layout partitioned -o DIR",
        )
    target = Path(out)
    if layout is Layout.single and out.endswith(("/", "\\")):
        raise ConfigError(
            f"{out} names a folder, and --layout single writes one file",
            "give -o FILE.parquet, or add --layout partitioned to write into the folder",
        )
    check_target(target, layout.value)
    url = settings_from(ctx).database
    show_progress = not quiet and not as_json and is_terminal()
    with _progress(show_progress) as progress:
        if show_progress:
            progress.total(count_events(url, where, limit))
        result = export_parquet(
            url,
            target,
            where,
            names,
            layout=layout.value,
            limit=limit,
            force=force,
            on_progress=progress.update if show_progress else None,
            sentiment_model=sentiment_model,
        )
    _warn_if_empty(result.rows, where)
    if as_json:
        summary = {
            "rows": result.rows,
            "layout": layout.value,
            "files": [str(path) for path in result.files],
            "bytes": sum(path.stat().st_size for path in result.files),
        }
        print_json(summary)
    elif not quiet:
        where_to = f"{len(result.files)} files under {out}" if layout is Layout.partitioned else out
        print_line(f"Exported {result.rows:,} rows to {where_to}.")


def _check_csv_target(out: str, layout: Layout) -> None:
    """ConfigError unless `-o` can be written with this layout (`export.paths`)."""
    from sentiment_pipeline.errors import ConfigError
    from sentiment_pipeline.export.paths import check_output_dir, check_output_file

    if layout is Layout.partitioned:
        check_output_dir(Path(out))
        return
    if out.endswith(("/", "\\")):
        raise ConfigError(
            f"{out} names a folder, and --layout single writes one file",
            "give -o FILE.csv, or add --layout partitioned to write into the folder",
        )
    check_output_file(Path(out))


def _check_sentiment_model(names: tuple[str, ...], sentiment_model: str | None) -> None:
    from sentiment_pipeline.errors import ConfigError
    from sentiment_pipeline.export.columns import SENTIMENT_COLUMNS

    if sentiment_model is not None and not set(names) & set(SENTIMENT_COLUMNS):
        raise ConfigError(
            "--sentiment-model has no effect without a sentiment column",
            "add sentiment_compound, sentiment_label or language to --columns",
        )


def _warn_if_empty(rows: int, where: Any) -> None:
    from sentiment_pipeline.cli.console import print_line

    named = (*where.source_ids, *where.topics)
    if rows == 0 and named:
        print_line(
            f"Warning: no events for {', '.join(map(repr, named))} with these "
            "filters: check the names (`sentpipe stats` lists the stored ones).",
            stderr=True,
        )


class _Progress:
    """A rich progress bar on stderr; a no-op when disabled."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeRemainingColumn,
            )

            from sentiment_pipeline.cli.console import err_console

            self._bar = Progress(
                "exporting",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            )

    def total(self, rows: int) -> None:
        if self._bar is not None:
            self._task = self._bar.add_task("export", total=rows)

    def update(self, rows: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=rows)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _progress(enabled: bool) -> _Progress:
    return _Progress(enabled)
