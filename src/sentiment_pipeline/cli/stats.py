"""`sentpipe stats` (being implemented)."""

from __future__ import annotations

import typer


def stats(ctx: typer.Context) -> None:
    """Show what has been collected."""
    raise typer.Exit(2)
