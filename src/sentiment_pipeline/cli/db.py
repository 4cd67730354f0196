"""`sentpipe db init` and `sentpipe db status`."""

from __future__ import annotations

from typing import Annotated

import typer

from sentiment_pipeline.cli.console import print_json
from sentiment_pipeline.cli.state import settings_from

app = typer.Typer(help="Create, migrate and inspect the database.", no_args_is_help=True)


@app.command("init")
def init(
    ctx: typer.Context,
    chunk_interval: Annotated[
        str | None,
        typer.Option(
            metavar="INTERVAL",
            help="TimescaleDB chunk interval for raw_events (default '7 days'; see docs).",
        ),
    ] = None,
    require_timescale: Annotated[
        bool,
        typer.Option(help="Fail instead of falling back to a plain PostgreSQL table."),
    ] = False,
) -> None:
    """Create or upgrade the schema (idempotent: a current schema is left alone)."""
    from sentiment_pipeline.cli.console import log
    from sentiment_pipeline.db.migrate import init_db

    settings = settings_from(ctx)
    url = settings.database
    result = init_db(url, chunk_interval=chunk_interval, require_timescale=require_timescale)
    for notice in result.notices:
        log(f"Notice: {notice}")
    where = f"{result.server.description} at {url.masked}"
    if result.changed:
        log(f"Migrated {where} from {result.before or 'empty'} to {result.head}.")
    else:
        log(f"Schema is current ({result.head}) on {where}; nothing to do.")
    if result.table.hypertable:
        log(f"raw_events: {result.table.layout}.")


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the database, its version, schema revision and raw_events layout."""
    from rich.table import Table

    from sentiment_pipeline.cli.console import out_console
    from sentiment_pipeline.db.migrate import db_status

    result = db_status(settings_from(ctx).database)
    server = result.server
    data = {
        "url": result.url,
        "backend": server.kind,
        "version": server.description,
        "timescaledb_license": server.backend.timescale_license,
        "revision": result.current,
        "head": result.head,
        "up_to_date": result.current == result.head,
        "table_exists": server.table.exists,
        "hypertable": server.hypertable,
        "chunk_interval": server.table.chunk_interval,
        "chunks": server.chunks,
        "approx_rows": server.table.approx_rows,
        "server_version": server.backend.server_version,
        "timescaledb_version": server.backend.timescale_version,
        "size_bytes": server.size_bytes,
    }
    if as_json:
        print_json(data)
        return
    table = Table(show_header=False, title="sentpipe database")
    table.add_row("URL", result.url)
    table.add_row("Backend", server.description)
    revision = result.current or "none (run `sentpipe db init`)"
    marker = "up to date" if result.current == result.head else f"head is {result.head}"
    table.add_row("Revision", f"{revision} ({marker})")
    table.add_row("raw_events", server.table.layout)
    if server.table.exists:
        table.add_row("Rows (approx.)", f"{server.table.approx_rows:,}")
    out_console.print(table)
