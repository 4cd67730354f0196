"""`sentpipe scrape reddit` (being implemented)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Collect posts and comments from a source.", no_args_is_help=True)


@app.command("reddit")
def reddit(ctx: typer.Context) -> None:
    """Scrape subreddits into the configured sinks."""
    raise typer.Exit(2)
