"""`sentpipe export csv` (being implemented)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Export collected events.", no_args_is_help=True)


@app.command("csv")
def csv(ctx: typer.Context) -> None:
    """Export events as CSV."""
    raise typer.Exit(2)
