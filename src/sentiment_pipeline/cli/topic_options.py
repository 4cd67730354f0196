"""The topic options shared by `sentiment report`, `export csv` and `stats`: `--topic NAME`
(repeatable) and `--via any|text`, one definition so their help and values agree
(`db.filters.EventFilter.topics` / `.via`, docs/topics.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

__all__ = ["TopicNames", "Via", "ViaOption"]


class Via(StrEnum):
    """Which topic links count (`db.filters.VIAS`)."""

    any = "any"
    text = "text"


TopicNames = Annotated[
    list[str] | None,
    typer.Option(
        "--topic",
        metavar="NAME",
        help="Only events linked to this topic (repeatable: any of them; docs/topics.md).",
    ),
]
ViaOption = Annotated[
    Via,
    typer.Option(
        help="Which topic links count: any (the event's own text or its post matched) or "
        "text (its own text only).",
    ),
]
