"""`sentpipe ingest ndjson` and `sentpipe spool replay`: feed records through the core."""

from __future__ import annotations

from typing import Annotated

import typer

from sentiment_pipeline.cli.state import settings_from

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
JsonOption = Annotated[bool, typer.Option("--json", help="Print the run result as JSON.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")]


@ingest_app.command("ndjson")
def ndjson(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="NDJSON file, or - for standard input.")],
    sink: SinkOption = None,
    dry_run: Annotated[bool, typer.Option(help="Validate only; write nothing.")] = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Ingest one JSON object per line ({id, occurred_at, source, source_id, event_type,
    payload}) through validation, dead letters and the configured sinks."""
    from sentiment_pipeline.cli.render import ProgressReporter, render_result
    from sentiment_pipeline.pipeline import run_from_settings
    from sentiment_pipeline.sources.ndjson import ndjson_records

    settings = settings_from(ctx)
    with ProgressReporter("ingesting", enabled=not (quiet or as_json)) as progress:
        result = run_from_settings(
            settings, ndjson_records(path), sink_names=sink, dry_run=dry_run, on_progress=progress
        )
    render_result(result, as_json=as_json, quiet=quiet)
    raise typer.Exit(int(result.exit_code))


@spool_app.command("replay")
def replay(
    ctx: typer.Context,
    sink: SinkOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write spooled batches to the database (each run also does this first)."""
    from sentiment_pipeline.cli.render import render_result
    from sentiment_pipeline.pipeline import replay_spool

    result = replay_spool(settings_from(ctx), sink_names=sink)
    render_result(result, as_json=as_json, quiet=quiet)
    raise typer.Exit(int(result.exit_code))


@spool_app.command("status")
def spool_status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """How many batches and records wait in the spool."""
    import json

    from sentiment_pipeline.cli.console import out_console
    from sentiment_pipeline.pipeline.spool import Spool

    spool = Spool(settings_from(ctx).spool_dir)
    files = spool.files()
    data = {
        "directory": str(spool.directory),
        "files": len(files),
        "records": spool.pending_records(),
    }
    if as_json:
        out_console.print_json(json.dumps(data))
    else:
        out_console.print(
            f"{data['records']:,} records in {data['files']} spool files under {data['directory']}"
        )
