"""Options several commands take, defined once so their names and help stay the same."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["AsJson", "MaxDuration", "MaxRequests", "Quiet", "Sources"]

MaxRequests = Annotated[
    int | None,
    typer.Option(
        "--max-requests", min=1, metavar="N", help="Stop cleanly after this many API requests."
    ),
]
MaxDuration = Annotated[
    float | None,
    typer.Option(
        "--max-duration", min=1, metavar="SECONDS", help="Stop cleanly after this many seconds."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the run result as JSON.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")]
Sources = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        metavar="SOURCE",
        help="Only this source, e.g. reddit or hackernews (repeatable; a name neither "
        "registered nor stored is an error).",
    ),
]
