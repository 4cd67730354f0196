"""`sentpipe refresh reddit` / `refresh hn`: parse options, call `refresh_reddit` /
`refresh_hn`, render the result. The options both share are defined once here
(`MaxAge`, `Schedule`, …) and run through one function (`_refresh`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentiment_pipeline.cli.options import AsJson, MaxDuration, MaxRequests, Quiet
from sentiment_pipeline.cli.service import Every, Jitter, MetricsFile, Outcome, serve
from sentiment_pipeline.cli.state import settings_from

if TYPE_CHECKING:
    from sentiment_pipeline.refresh import RefreshOptions, RefreshResult
    from sentiment_pipeline.settings import Settings

app = typer.Typer(
    help="Re-read stored items: scores, edits, late comments, deletions.", no_args_is_help=True
)

MaxAge = Annotated[
    str | None,
    typer.Option(
        "--max-age", metavar="DURATION", help="Revisit items up to this age (default 72h)."
    ),
]
Schedule = Annotated[
    str | None,
    typer.Option(
        "--schedule",
        metavar="AGES",
        help="Ages at which an item is due again (default 1h,24h,72h).",
    ),
]
PurgeDeletedOnly = Annotated[
    bool,
    typer.Option(
        "--purge-deleted-only",
        help="Apply the deleted-content policy to earlier findings; no requests.",
    ),
]
Wait = Annotated[
    bool,
    typer.Option("--wait", help="Wait for a running scrape or refresh instead of exit 4."),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Count the due items and requests; change nothing.")
]


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
    max_age: MaxAge = None,
    schedule: Schedule = None,
    max_requests: MaxRequests = None,
    max_duration: MaxDuration = None,
    purge_deleted_only: PurgeDeletedOnly = False,
    wait: Wait = False,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
    every: Every = None,
    jitter: Jitter = None,
    metrics_file: MetricsFile = None,
) -> None:
    """Re-read stored Reddit items due on the schedule through /api/info (100 per request).

    With --every: refresh again and again until SIGTERM/SIGINT (then 0).

    Exit codes: 0 done (also when stopped by --max-*), 1 finished with failures,
    2 usage or configuration error, 3 database or network unreachable, 4 lock held.
    """
    from sentiment_pipeline.db.filters import subreddit_keys
    from sentiment_pipeline.refresh import refresh_reddit

    _refresh(
        ctx,
        "refresh",
        refresh_reddit,
        subreddit_keys(part for s in subreddit or [] for part in s.split(",") if part),
        locals(),
    )


@app.command("hn")
def hn(
    ctx: typer.Context,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            "-k",
            metavar="KIND",
            help="Only items of this story kind: story, ask, show, job, poll (repeatable).",
        ),
    ] = None,
    max_age: MaxAge = None,
    schedule: Schedule = None,
    max_requests: MaxRequests = None,
    max_duration: MaxDuration = None,
    purge_deleted_only: PurgeDeletedOnly = False,
    wait: Wait = False,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
    every: Every = None,
    jitter: Jitter = None,
    metrics_file: MetricsFile = None,
) -> None:
    """Re-read stored Hacker News items due on the schedule through the Firebase API
    (one request per item); stories that gained comments are re-read whole from
    Algolia (one request per story).

    With --every: refresh again and again until SIGTERM/SIGINT (then 0).

    Exit codes: 0 done (also when stopped by --max-*), 1 finished with failures,
    2 usage or configuration error, 3 database or network unreachable, 4 lock held.
    """
    from sentiment_pipeline.refresh import refresh_hn

    _refresh(ctx, "refresh_hn", refresh_hn, kind_keys(kind or []), locals())


def kind_keys(values: Iterable[str]) -> tuple[str, ...]:
    """`--kind` values (comma lists too) as stored `source_id`s, each once; raises
    `ConfigError` for a kind HN does not have."""
    from sentiment_pipeline.errors import ConfigError
    from sentiment_pipeline.sources.hackernews.payload import KINDS

    kinds = [part.strip().lower() for value in values for part in value.split(",")]
    unknown = sorted({k for k in kinds if k and k not in KINDS})
    if unknown:
        raise ConfigError(
            f"--kind {', '.join(unknown)}: no such kind", f"one of {', '.join(KINDS)}"
        )
    return tuple(dict.fromkeys(k for k in kinds if k))


def _refresh(
    ctx: typer.Context,
    command: str,
    refresh: Callable[..., RefreshResult],
    source_ids: tuple[str, ...],
    args: dict[str, Any],
) -> None:
    """The shared body of the refresh commands: the options (`args`: the command's
    `locals()`, its parameters by name, so no option is listed twice), the settings,
    one run or the service loop."""
    from sentiment_pipeline.cli.console import setup_logging
    from sentiment_pipeline.refresh import RefreshOptions
    from sentiment_pipeline.timeparse import parse_duration

    if args["quiet"]:
        setup_logging(quiet=True)
    for flag, value in (("--max-age", args["max_age"]), ("--schedule", args["schedule"])):
        for part in value.split(",") if value is not None else ():
            parse_duration(part.strip(), flag)  # refused as the flag, not as the setting
    options = RefreshOptions(
        source_ids=source_ids,
        max_requests=args["max_requests"],
        max_duration=args["max_duration"],
        dry_run=args["dry_run"],
        purge_deleted_only=args["purge_deleted_only"],
        wait_for_lock=args["wait"],
    )
    settings = settings_from(
        ctx, refresh_max_age=args["max_age"], refresh_schedule=args["schedule"]
    )
    _serve(ctx, command, refresh, settings, options, args)


def _serve(
    ctx: typer.Context,
    command: str,
    refresh: Callable[..., RefreshResult],
    settings: Settings,
    options: RefreshOptions,
    args: dict[str, Any],
) -> None:
    as_json, quiet = bool(args["as_json"]), bool(args["quiet"])

    def run_once(stop: Any) -> Outcome:
        from sentiment_pipeline.service import figures_from_refresh

        result = refresh(settings, options, stop=None if stop is None else stop.is_set)
        render_refresh(result, as_json=as_json, quiet=quiet)
        return Outcome(int(result.exit_code), figures_from_refresh(result))

    serve(
        ctx,
        command,
        run_once,
        every=args["every"],
        jitter=args["jitter"],
        metrics_file=args["metrics_file"],
        metrics_dir=settings.metrics_dir,
        quiet=quiet,
        database=None if options.dry_run else settings.database,  # a dry run records nothing
    )


def render_refresh(result: RefreshResult, as_json: bool = False, quiet: bool = False) -> None:
    """One summary line of the refresh, then the common run summary (or JSON)."""
    from sentiment_pipeline.cli.console import log
    from sentiment_pipeline.cli.render import render_result

    if not (as_json or quiet):
        r = result.report
        states = ", ".join(f"{n:,} {state}" for state, n in r.states.items() if n)
        shown = ", ".join(f"{r.requests.get(k, 0):,} {k}" for k in result.shown_requests)
        posts = "posts" if result.source == "reddit" else "stories"
        left = f" ({r.grown_left:,} left due for the next run)" if r.grown_left else ""
        log(
            f"refresh: {r.due:,} due, {r.asked:,} re-read ({states or 'none'}); "
            f"{r.edits:,} edits, {r.grown:,} {posts} with new comments{left}, "
            f"{r.redacted:,} redacted ({r.policy}); "
            f"{r.requests['total']:,} {result.site} requests ({shown})"
        )
    render_result(result, as_json=as_json, quiet=quiet)
