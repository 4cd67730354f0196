"""`sentpipe refresh reddit`: parse options, call `refresh_reddit`, render the result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentiment_pipeline.cli.service import Every, Jitter, MetricsFile, Outcome, serve
from sentiment_pipeline.cli.state import settings_from

if TYPE_CHECKING:
    from sentiment_pipeline.refresh import RefreshResult

app = typer.Typer(
    help="Re-read stored items: scores, edits, late comments, deletions.", no_args_is_help=True
)


@app.command("reddit")
def reddit(
    ctx: typer.Context,
    subreddit: Annotated[
        list[str] | None,
        typer.Option(
            "--subreddit",
            "-s",
            metavar="NAME",
            help="Only this subreddit, in any case, r/ or not (repeatable).",
        ),
    ] = None,
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age", metavar="DURATION", help="Revisit items up to this age (default 72h)."
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            metavar="AGES",
            help="Ages at which an item is due again (default 1h,24h,72h).",
        ),
    ] = None,
    max_requests: Annotated[
        int | None,
        typer.Option("--max-requests", min=1, help="Stop cleanly after this many API requests."),
    ] = None,
    max_duration: Annotated[
        float | None,
        typer.Option(
            "--max-duration", min=1, metavar="SECONDS", help="Stop cleanly after this many seconds."
        ),
    ] = None,
    purge_deleted_only: Annotated[
        bool,
        typer.Option(
            "--purge-deleted-only",
            help="Apply the deleted-content policy to earlier findings; no requests.",
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Wait for a running scrape or refresh instead of exit 4."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count the due items and requests; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run result as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
    every: Every = None,
    jitter: Jitter = None,
    metrics_file: MetricsFile = None,
) -> None:
    """Re-read stored Reddit items due on the schedule through /api/info (100 per request).

    With --every: refresh again and again until SIGTERM/SIGINT (then 0).

    Exit codes: 0 done (also when stopped by --max-*), 1 finished with failures,
    2 usage or configuration error, 3 database or network unreachable, 4 lock held.
    """
    from sentiment_pipeline.cli.console import setup_logging
    from sentiment_pipeline.db.filters import subreddit_keys
    from sentiment_pipeline.refresh import RefreshOptions, refresh_reddit
    from sentiment_pipeline.timeparse import parse_duration

    if quiet:
        setup_logging(quiet=True)
    for flag, value in (("--max-age", max_age), ("--schedule", schedule)):
        for part in value.split(",") if value is not None else ():
            parse_duration(part.strip(), flag)  # refused as the flag, not as the setting
    options = RefreshOptions(
        source_ids=subreddit_keys(part for s in subreddit or [] for part in s.split(",") if part),
        max_requests=max_requests,
        max_duration=max_duration,
        dry_run=dry_run,
        purge_deleted_only=purge_deleted_only,
        wait_for_lock=wait,
    )
    settings = settings_from(ctx, refresh_max_age=max_age, refresh_schedule=schedule)

    def run_once(stop: Any) -> Outcome:
        from sentiment_pipeline.service import figures_from_refresh

        result = refresh_reddit(settings, options, stop=None if stop is None else stop.is_set)
        render_refresh(result, as_json=as_json, quiet=quiet)
        return Outcome(int(result.exit_code), figures_from_refresh(result))

    serve(
        ctx,
        "refresh",
        run_once,
        every=every,
        jitter=jitter,
        metrics_file=metrics_file,
        metrics_dir=settings.metrics_dir,
        quiet=quiet,
    )


def render_refresh(result: RefreshResult, as_json: bool = False, quiet: bool = False) -> None:
    """One summary line of the refresh, then the common run summary (or JSON)."""
    from sentiment_pipeline.cli.console import log
    from sentiment_pipeline.cli.render import render_result

    if not (as_json or quiet):
        r = result.report
        states = ", ".join(f"{n:,} {state}" for state, n in r.states.items() if n)
        log(
            f"refresh: {r.due:,} due, {r.asked:,} re-read ({states or 'none'}); "
            f"{r.edits:,} edits, {r.grown:,} posts with new comments, {r.redacted:,} redacted "
            f"({r.policy}); {r.requests['total']:,} Reddit requests "
            f"({r.requests['info']:,} info, {r.requests['token']:,} token)"
        )
    render_result(result, as_json=as_json, quiet=quiet)
