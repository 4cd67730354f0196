"""`sentpipe topics list|match`: what each topic holds, and linking stored events again."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentiment_pipeline.cli.console import print_json
from sentiment_pipeline.cli.sentiment import Since
from sentiment_pipeline.cli.state import settings_from

if TYPE_CHECKING:
    from datetime import datetime

    from sentiment_pipeline.settings import Settings
    from sentiment_pipeline.sources.topic import Topic
    from sentiment_pipeline.topics.match import MatchReport

app = typer.Typer(
    help="Topics: what each one matched, and matching stored events again.",
    no_args_is_help=True,
)

AsJson = Annotated[bool, typer.Option("--json", help="The result as JSON (docs/topics.md).")]


def _configured(settings: Settings) -> list[Topic]:
    from sentiment_pipeline.sources.topic import topics_from

    return topics_from(settings.topics)


def _ready(settings: Settings) -> None:
    """The schema at head (the embedded SQLite file is migrated; a server must be)."""
    from sentiment_pipeline.db.migrate import ensure_schema

    ensure_schema(settings.database, migrate=settings.embedded_database)


@app.command("list")
def list_command(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Each topic: its query, events matched (by text, by post), the newest, its state."""

    from sentiment_pipeline.cli.console import print_line
    from sentiment_pipeline.topics.match import list_topics

    settings = settings_from(ctx)
    topics = _configured(settings)
    _ready(settings)
    listing = list_topics(settings.database, topics)
    if as_json:
        print_json([_listed(item) for item in listing])
        return
    if not listing:
        print_line("No topics: add them under `topics:` in the YAML file (docs/topics.md).")
        return
    for item in listing:
        figures = item.figures
        matched = (
            "no events matched"
            if figures is None
            else f"{figures.events:,} events ({figures.by_text:,} by text, "
            f"{figures.by_post:,} by post), newest {figures.newest:%Y-%m-%d %H:%M}Z"
        )
        scope = f" in r/{'+'.join(item.subreddits)}" if item.subreddits else ""
        print_line(f"{item.name}: {item.query or '(links only)'}{scope}")
        print_line(f"  {matched}; {item.state}{_advice(item.name, item.state)}")


def _advice(name: str, state: str) -> str:
    if state.startswith("history matched") or state == "not configured":
        return ""
    return f": run `sentpipe topics match --topic {name}`"


def _listed(item: Any) -> dict[str, Any]:
    figures = item.figures
    return {
        "name": item.name,
        "query": item.query,
        "subreddits": item.subreddits,
        "events": figures.events if figures else 0,
        "by_text": figures.by_text if figures else 0,
        "by_post": figures.by_post if figures else 0,
        "newest": figures.newest.isoformat() if figures and figures.newest else None,
        "state": item.state,
    }


@app.command("match")
def match_command(
    ctx: typer.Context,
    topic: Annotated[
        list[str] | None,
        typer.Option(
            "--topic",
            "-t",
            metavar="NAME",
            help="Only this topic, matched again even if up to date (repeatable).",
        ),
    ] = None,
    since: Since = None,
    as_json: AsJson = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
) -> None:
    """Link stored events to the configured topics again, in resumable batches.

    Without --topic: the topics added, changed or interrupted since their last match.
    """

    from sentiment_pipeline.service import StopFlag
    from sentiment_pipeline.timeparse import parse_moment
    from sentiment_pipeline.topics.match import match_topics

    settings = settings_from(ctx)
    chosen = _chosen(_configured(settings), topic or [])
    start = parse_moment(since, "--since") if since else None
    _ready(settings)
    stop = StopFlag()
    restore = stop.install()
    progress = _Progress(enabled=not (quiet or as_json))
    try:
        report = match_topics(
            settings.database,
            chosen,
            since=start,
            force=bool(topic) or start is not None,
            on_batch=progress,
            stop=stop.is_set,
        )
    finally:
        restore()
    _mirror(settings, report, start)
    if as_json:
        print_json(report.to_dict())
    elif not quiet:
        _render(report)
    raise typer.Exit(130 if report.stopped else 0)


def _chosen(configured: list[Topic], names: list[str]) -> list[Topic]:
    """The topics `--topic` names (all configured ones without it). Raises
    `ConfigError` for a name not configured, or no topic at all."""
    from sentiment_pipeline.errors import ConfigError

    if not configured:
        raise ConfigError("no topics are configured", "add them under `topics:` in the YAML file")
    if not names:
        return configured
    known = {t.name: t for t in configured}
    missing = [name for name in names if name not in known]
    if missing:
        raise ConfigError(
            f"no topic {missing[0]!r} is configured",
            f"configured: {', '.join(known)} (topics: in the YAML file)",
        )
    return [known[name] for name in dict.fromkeys(names)]


def _mirror(settings: Settings, report: MatchReport, since: datetime | None) -> None:
    """With the CSV sink configured, its topic files follow what the match stored."""
    matched = [name for name, run in report.topics.items() if run.status in ("matched", "resumed")]
    if matched and not report.stopped and "csv" in {s.strip().lower() for s in settings.sinks}:
        from sentiment_pipeline.topics.match import mirror_csv

        report.csv_files = mirror_csv(settings.database, matched, since, settings.csv_path)


class _Progress:
    """A timestamped line every 10 s (a terminal or not: a match is long and quiet)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = time.monotonic()

    def __call__(self, scanned: int) -> None:
        if self.enabled and time.monotonic() - self._last >= 10:
            from sentiment_pipeline.cli.console import log

            self._last = time.monotonic()
            log(f"matching: {scanned:,} events so far")


def _render(report: MatchReport) -> None:
    from sentiment_pipeline.cli.console import print_line

    rate = report.scanned / report.duration if report.duration > 0 else 0.0
    for name, run in report.topics.items():
        if run.status == "up to date":
            print_line(f"{name}: up to date (--topic {name} matches it again)")
            continue
        print_line(
            f"{name}: {run.status}, {run.scanned:,} events read, {run.text + run.post:,} "
            f"linked ({run.text:,} by text, {run.post:,} by post)"
        )
    print_line(f"{report.scanned:,} events in {report.duration:.1f} s ({rate:,.0f}/s).")
    if report.csv_files:
        print_line(f"{report.csv_files:,} CSV link files written (topic=<name>/<day>.csv).")
    if report.stopped:
        print_line("Stopped: run the same command again to continue where it stopped.")
