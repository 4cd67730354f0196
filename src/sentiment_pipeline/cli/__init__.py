"""The `sentpipe` command: a thin typer layer over the library.

Each command parses options, loads settings, calls one core function and renders the
result. Heavy libraries (SQLAlchemy, Alembic, asyncpraw) are imported inside commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from sentiment_pipeline import __version__
from sentiment_pipeline.cli import config as config_cmd
from sentiment_pipeline.cli import db as db_cmd
from sentiment_pipeline.cli import demo as demo_cmd
from sentiment_pipeline.cli import export as export_cmd
from sentiment_pipeline.cli import ingest as ingest_cmd
from sentiment_pipeline.cli import refresh as refresh_cmd
from sentiment_pipeline.cli import scrape as scrape_cmd
from sentiment_pipeline.cli import sentiment as sentiment_cmd
from sentiment_pipeline.cli import stats as stats_cmd
from sentiment_pipeline.cli import topics as topics_cmd
from sentiment_pipeline.cli.boundary import SentpipeGroup
from sentiment_pipeline.cli.metavars import use_named_help
from sentiment_pipeline.cli.state import get_state

__all__ = ["app", "main"]

app = typer.Typer(
    name="sentpipe",
    cls=SentpipeGroup,
    help="Collect Reddit and Hacker News posts and comments into TimescaleDB and CSV for research.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: rich help costs ~170 ms per start
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
app.add_typer(scrape_cmd.app, name="scrape")
app.add_typer(export_cmd.app, name="export")
app.command("stats")(stats_cmd.stats)
app.command("demo")(demo_cmd.demo)
app.add_typer(db_cmd.app, name="db")
app.add_typer(config_cmd.app, name="config")
app.add_typer(ingest_cmd.ingest_app, name="ingest")
app.add_typer(ingest_cmd.spool_app, name="spool")
app.add_typer(sentiment_cmd.app, name="sentiment")
app.add_typer(refresh_cmd.app, name="refresh")
app.add_typer(topics_cmd.app, name="topics")

# Plain help that names what to type, for every command: cli/metavars.py.
use_named_help(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sentpipe {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="YAML settings and scrape targets (also SENTPIPE_CONFIG).",
            dir_okay=False,
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Collect Reddit and Hacker News posts and comments into TimescaleDB and CSV for research."""
    from sentiment_pipeline.cli.console import setup_logging

    state = get_state(ctx)
    state.debug = debug
    state.config = config
    setup_logging(debug=debug)


def main() -> None:
    """Console-script entry point."""
    # sentpipe's models use no pydantic plugin, and looking for them reads every installed
    # package's entry points on each start (~15 ms); a user who sets the variable wins
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    app()
