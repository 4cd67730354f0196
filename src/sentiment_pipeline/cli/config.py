"""`sentpipe config show`: the effective settings, secrets masked, with their origin.

A database URL sentpipe refuses is still shown (masked), then the refusal: exit 2."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentiment_pipeline.cli.console import print_json
from sentiment_pipeline.cli.state import get_state
from sentiment_pipeline.errors import ConfigError

if TYPE_CHECKING:
    from rich.table import Table

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
    if isinstance(value, dict):  # topics: name -> its settings, as JSON shows them
        return {k: v.model_dump() if hasattr(v, "model_dump") else v for k, v in value.items()}
    if value is None:
        return None
    return str(value) if not isinstance(value, int | float | bool) else value


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Print the effective settings (secrets masked) and where each value came from."""
    from sentiment_pipeline.cli.console import out_console
    from sentiment_pipeline.settings import load_settings, setting_origins

    state = get_state(ctx)
    settings = load_settings(state.config, check_database=False)
    origins = setting_origins(state.config)
    rows = {
        name: {"value": _display(name, getattr(settings, name)), "source": origins[name]}
        for name in type(settings).model_fields
    }
    refused: ConfigError | None = None
    try:
        effective: str | None = settings.database.masked
    except ConfigError as error:  # shown masked above; the reason follows the table
        effective, refused = None, error
    rows["database (effective)"] = {"value": effective, "source": "derived"}
    rows["csv_dir (effective)"] = {"value": str(settings.csv_path), "source": "derived"}
    if as_json:
        print_json(rows)
    else:
        notes = {"database (effective)": "[red]refused (see below)[/]"} if refused else {}
        out_console.print(_table(rows, notes))
    if refused is not None:
        raise refused


def _table(rows: dict[str, dict[str, Any]], notes: dict[str, str]) -> Table:
    """The plain table; `notes` replace "unset" for values that are None for a reason."""
    from rich.markup import escape
    from rich.table import Table

    table = Table("setting", "value", "from", title="sentpipe configuration")
    for name, row in rows.items():
        value = row["value"]
        if value is None:
            shown = notes.get(name, "[dim]unset[/]")
        else:
            shown = escape(json.dumps(value) if isinstance(value, list | dict) else str(value))
        table.add_row(name, shown, row["source"])
    return table
