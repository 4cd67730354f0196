"""Global options shared by every command, carried on the click context."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

__all__ = ["AppState", "get_state", "settings_from"]


@dataclass
class AppState:
    debug: bool = False
    config: Path | None = None


def get_state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def settings_from(ctx: typer.Context, **flags: Any) -> Any:
    """Load settings with this invocation's `--config`, and the command's flags as the
    top layer (`flags`: by settings field name; None or an empty list means not given),
    so a flag beats `SENTPIPE_*`, `.env` and YAML without any command re-deciding it."""
    from sentiment_pipeline.settings import load_settings

    given = {key: value for key, value in flags.items() if value is not None and value != []}
    return load_settings(get_state(ctx).config, **given)
