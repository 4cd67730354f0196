"""`sentpipe config show`: the effective settings, secrets masked, with their origin."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from sentiment_pipeline.cli.state import get_state

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


def _display(name: str, value: Any) -> Any:
    from pydantic import SecretStr

    from sentiment_pipeline.db.url import mask_url

    if isinstance(value, SecretStr):
        if name == "database_url":
            return mask_url(value.get_secret_value())
        return "********" if value.get_secret_value() else ""
    if isinstance(value, list):
        return [item.model_dump() if hasattr(item, "model_dump") else item for item in value]
    if value is None:
        return None
    return str(value) if not isinstance(value, int | float | bool) else value


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Print the effective settings (secrets masked) and where each value came from."""
    from rich.table import Table

    from sentiment_pipeline.cli.console import out_console
    from sentiment_pipeline.settings import load_settings, setting_origins

    state = get_state(ctx)
    settings = load_settings(state.config)
    origins = setting_origins(state.config)
    rows = {
        name: {"value": _display(name, getattr(settings, name)), "source": origins[name]}
        for name in type(settings).model_fields
    }
    effective = settings.database
    rows["database (effective)"] = {"value": effective.masked, "source": "derived"}
    rows["csv_dir (effective)"] = {"value": str(settings.csv_path), "source": "derived"}
    if as_json:
        out_console.print_json(json.dumps(rows))
        return
    table = Table("setting", "value", "from", title="sentpipe configuration")
    for name, row in rows.items():
        value = row["value"]
        shown = json.dumps(value) if isinstance(value, list) else str(value)
        table.add_row(name, shown if value is not None else "[dim]unset[/]", row["source"])
    out_console.print(table)
