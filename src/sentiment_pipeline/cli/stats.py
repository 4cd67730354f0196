"""`sentpipe stats`: render the stats core as tables and a per-day bar chart, or JSON."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sentiment_pipeline.cli.console import print_json
from sentiment_pipeline.cli.state import settings_from
from sentiment_pipeline.cli.topic_options import TopicNames, Via, ViaOption

_BAR_WIDTH = 40
_TOP_SOURCE_IDS = 25


def stats(
    ctx: typer.Context,
    source_id: Annotated[
        list[str] | None,
        typer.Option(
            "--source-id",
            "--subreddit",
            metavar="NAME",
            help="Only this subreddit, in any case, r/ or not (repeatable).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN",
            help="Only events from this UTC date/time on (2024-01-31, 2024-01-31T12:00Z, or 7d).",
        ),
    ] = None,
    topic: TopicNames = None,
    via: ViaOption = Via.any,
    days: Annotated[
        int, typer.Option(min=1, max=3660, metavar="N", help="Days in the per-day chart.")
    ] = 14,
    as_json: Annotated[
        bool, typer.Option("--json", help="The figures as JSON (see docs/stats.md for the shape).")
    ] = False,
    fail_if_stale: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION",
            help="Exit 1 when nothing was ingested within this long (30m, 2h, 1d): for cron "
            "and monitors.",
        ),
    ] = None,
) -> None:
    """Show what has been collected: counts, freshness, events per day and the backend."""

    from sentiment_pipeline.cli.console import err_console
    from sentiment_pipeline.stats import collect_stats
    from sentiment_pipeline.timeparse import format_duration, parse_duration, parse_moment

    max_age = parse_duration(fail_if_stale, "--fail-if-stale") if fail_if_stale else None
    start = parse_moment(since, "--since") if since else None
    settings = settings_from(ctx)
    result = collect_stats(
        settings.database,
        tuple(source_id or ()),
        start,
        days=days,
        topics=tuple(topic or ()),
        via=via.value,
    )
    result.spooled, result.journal_rows = _pending(settings)
    if as_json:
        print_json(result.to_dict(max_age))
    else:
        _render(result)
    _warn_unmatched(result.unmatched_source_ids)
    _warn_unmatched(result.unmatched_topics, "topic")
    if max_age is not None and result.is_stale(max_age):
        age = result.last_ingest_age
        detail = (
            "nothing was ever ingested"
            if age is None
            else (f"the last event was ingested {format_duration(age)} ago")
        )
        err_console.print(f"Stale: {detail} (limit {format_duration(max_age)}).", markup=False)
        raise typer.Exit(1)


def _pending(settings: Any) -> tuple[int, int]:
    """Records in the spool and journal rows the CSV sink may lack (`spool status`)."""
    from sentiment_pipeline.pipeline.journal import owed_rows
    from sentiment_pipeline.pipeline.spool import Spool

    return Spool(settings.spool_dir).pending_records(), owed_rows(settings.journal_dir)


def _warn_unmatched(values: list[str], option: str = "subreddit") -> None:
    """One line on standard error per filter value that matched no event (exit code
    unchanged): a misspelt name should not read as "nothing collected"."""
    from sentiment_pipeline.cli.console import print_line

    for value in values:
        print_line(
            f"Warning: no events for {value!r}: check the name "
            f"(`sentpipe stats` without --{option} lists the stored ones).",
            stderr=True,
        )


def _human_bytes(size: int | None) -> str:
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _scope(result: Any) -> list[str]:
    """The filters a `Stats` was gathered with, as phrases (`source_id stocks`, …)."""
    from sentiment_pipeline.stats import iso

    scope = []
    if result.source_ids:
        scope.append("source_id " + ", ".join(result.source_ids))
    if result.topic_names:
        scope.append("topic " + ", ".join(result.topic_names))
    if result.via != "any":
        scope.append(f"topic links via {result.via}")
    if result.since:
        scope.append(f"since {iso(result.since)}")
    return scope


def _render(result: Any) -> None:
    from rich.columns import Columns
    from rich.table import Table

    from sentiment_pipeline.cli.console import out_console
    from sentiment_pipeline.stats import iso
    from sentiment_pipeline.timeparse import format_duration

    server = result.backend
    where = f"{server.description} · {server.table.layout} · {_human_bytes(server.size_bytes)}"
    scope = _scope(result)
    out_console.print(f"[bold]sentpipe stats[/] — {where}")
    if scope:
        out_console.print("Filtered to " + "; ".join(scope), markup=False)

    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_row("Events", f"{result.total:,}")
    summary.add_row("Processed", f"{result.processed:,} (unprocessed {result.unprocessed:,})")
    summary.add_row("First event", iso(result.first_occurred_at) or "—")
    newest = result.newest_event_age
    summary.add_row(
        "Last event",
        (iso(result.last_occurred_at) or "—")
        + (f"  (newest event is {format_duration(newest)} old)" if newest is not None else ""),
    )
    ingest = result.last_ingest_age
    summary.add_row(
        "Last ingest",
        (iso(result.last_ingested_at) or "—")
        + (f"  ({format_duration(ingest)} ago)" if ingest is not None else ""),
    )
    if result.spooled or result.journal_rows:
        summary.add_row(
            "Not stored yet",
            f"{result.spooled:,} spooled records, {result.journal_rows:,} journal rows to "
            "check against the CSV sink (the next run writes them; `sentpipe spool status`)",
        )
    unscorable = sum(result.not_scorable.values())
    by_source = ", ".join(f"{source} {n:,}" for source, n in result.not_scorable.items())
    for counts in result.sentiment:
        summary.add_row(
            f"Sentiment {counts.model}",
            f"{counts.scored:,} scored, {unscorable:,} not scorable"
            + (f" ({by_source})" if by_source else "")
            + f", {counts.waiting:,} waiting",
        )
    if result.last_observed_at is not None:
        states = ", ".join(f"{n:,} {state}" for state, n in result.revisions_by_state.items())
        summary.add_row("Last refresh", f"{iso(result.last_observed_at)}  ({states})")
    out_console.print(summary)
    if result.total == 0:
        if not scope:
            out_console.print("No events yet: run `sentpipe scrape` or `sentpipe demo`.")
        return

    groups = _table("source", result.by_source.items())
    types = _table("event type", result.by_event_type.items())
    ids = _table(
        "source/source_id",
        ((f"{s}/{sid}", n) for s, sid, n in result.by_source_id[:_TOP_SOURCE_IDS]),
    )
    hidden = len(result.by_source_id) - _TOP_SOURCE_IDS
    if hidden > 0:
        ids.caption = f"and {hidden} more (--json lists all)"
    out_console.print(Columns([groups, types, ids], padding=(0, 4)))
    if result.topics:
        out_console.print(_topics_table(result.topics))
    _chart(result.per_day)


def _topics_table(topics: list[Any]) -> Any:
    """Per topic (`stats.TopicFigures`): events, links by text / by post, scored, newest."""
    from rich import box
    from rich.table import Table

    from sentiment_pipeline.stats import iso

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("topic", "events", "via text", "via post", "scored", "newest event"):
        table.add_column(name, justify="left" if name in ("topic", "newest event") else "right")
    for one in topics:
        table.add_row(
            one.topic,
            f"{one.events:,}",
            f"{one.by_via.get('text', 0):,}",
            f"{one.by_via.get('post', 0):,}",
            f"{one.scored:,}",
            iso(one.last_occurred_at) or "—",
        )
    return table


def _table(label: str, rows: Any) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(label)
    table.add_column("events", justify="right")
    for name, n in rows:
        table.add_row(name, f"{n:,}")
    return table


def _chart(per_day: list[tuple[Any, int]]) -> None:
    from rich.markup import escape

    from sentiment_pipeline.cli.console import out_console

    peak = max((n for _, n in per_day), default=0)
    out_console.print(f"[bold]Events per day[/] (last {len(per_day)} days, UTC)")
    width = max((len(f"{n:,}") for _, n in per_day), default=1)
    for day, n in per_day:
        cells = 0 if peak == 0 else round(n / peak * _BAR_WIDTH * 8)
        bar = "█" * (cells // 8) + ("" if cells % 8 == 0 else " ▏▎▍▌▋▊▉"[cells % 8])
        if n and not bar:
            bar = "▏"
        out_console.print(f"{day.isoformat()} {n:>{width},} [cyan]{escape(bar)}[/]")
