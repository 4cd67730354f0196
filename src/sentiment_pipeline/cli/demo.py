"""`sentpipe demo` (being implemented)."""

from __future__ import annotations

import typer


def demo(ctx: typer.Context) -> None:
    """Run the whole pipeline offline against the bundled fake Reddit API."""
    raise typer.Exit(2)
