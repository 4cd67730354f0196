"""`sentpipe scrape reddit`: parse options, call `scrape_reddit`, render the result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentiment_pipeline.cli.options import AsJson, MaxDuration, MaxRequests, Quiet
from sentiment_pipeline.cli.service import Every, Jitter, MetricsFile, Outcome, serve
from sentiment_pipeline.cli.state import settings_from

if TYPE_CHECKING:
    from sentiment_pipeline.scrape import ScrapeResult
    from sentiment_pipeline.scrape.hackernews import HNScrapeResult
    from sentiment_pipeline.sources.reddit.report import GroupStats, SubredditStats, TopicStats

app = typer.Typer(help="Collect posts and comments from a source.", no_args_is_help=True)

Sorts = ("new", "hot", "top", "rising", "controversial")
CommentSources = ("auto", "listing", "trees")
TimeFilters = ("hour", "day", "week", "month", "year", "all")


# Options every `scrape` command takes, defined once.
TopicFlag = Annotated[
    list[str] | None,
    typer.Option(
        "--topic",
        metavar="NAME=QUERY",
        help="Track a topic (repeatable): its items from the source's search, matched "
        "as they arrive (docs/topics.md). Adds to the YAML `topics:` "
        "(a configured name only with the same query and no scope).",
    ),
]
TopicsOnly = Annotated[
    bool,
    typer.Option(
        "--topics-only",
        help="Collect only for the topics, not the targets of the YAML config.",
    ),
]
Since = Annotated[
    str | None,
    typer.Option(
        metavar="WHEN",
        help="Only items from this UTC date/time on, for first runs and backfills "
        "(2024-01-31, 2024-01-31T12:00Z, or a duration ago such as 7d).",
    ),
]
Wait = Annotated[
    bool,
    typer.Option("--wait", help="Wait for a running scrape instead of exiting with code 4."),
]
Sink = Annotated[
    list[str] | None,
    typer.Option("--sink", help="Sink (repeatable): database, timescale, sqlite, csv, memory."),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Fetch and validate; write nothing.")]


def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> str | None:
    if value is not None and value not in allowed:
        raise typer.BadParameter(f"choose from {', '.join(allowed)}", param_hint=option)
    return value


@app.command("reddit")
def reddit(
    ctx: typer.Context,
    subreddit: Annotated[
        list[str] | None,
        typer.Option(
            "--subreddit",
            "-s",
            metavar="NAME",
            help="Subreddit (repeatable or comma-separated). "
            "Default: the `subreddits:` list of the YAML config.",
        ),
    ] = None,
    topic: TopicFlag = None,
    topics_only: TopicsOnly = False,
    sort: Annotated[
        str | None,
        typer.Option(
            metavar="SORT", help=f"Listing: {', '.join(Sorts)}. Only `new` is incremental."
        ),
    ] = None,
    time_filter: Annotated[
        str | None,
        typer.Option(
            "--time-filter",
            metavar="PERIOD",
            help=f"For top/controversial: {', '.join(TimeFilters)}.",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Posts per subreddit at most.")] = None,
    since: Since = None,
    comments: Annotated[
        bool | None, typer.Option("--comments/--no-comments", help="Fetch comment trees.")
    ] = None,
    more_comments: Annotated[
        int | None,
        typer.Option("--more-comments", min=0, help="'More comments' expansions per post."),
    ] = None,
    comment_depth: Annotated[
        int | None,
        typer.Option(
            "--comment-depth", min=0, help="Keep comments up to this depth (0 = top level)."
        ),
    ] = None,
    refresh_hours: Annotated[
        float | None,
        typer.Option(
            "--refresh-hours",
            min=0,
            metavar="HOURS",
            help="Re-fetch comments of posts younger than this many hours "
            "(default: SENTPIPE_COMMENT_REFRESH_HOURS or 48).",
        ),
    ] = None,
    max_requests: MaxRequests = None,
    max_duration: MaxDuration = None,
    comments_from: Annotated[
        str | None,
        typer.Option(
            "--comments-from",
            metavar="STRATEGY",
            help="Where comments come from: auto (the comment listings; trees for first "
            "runs, --since and gaps), listing (listings only) or trees (one tree per post). "
            "Default: SENTPIPE_COMMENTS_FROM or auto.",
        ),
    ] = None,
    max_requests_per_hour: Annotated[
        int | None,
        typer.Option(
            "--max-requests-per-hour",
            min=1,
            metavar="N",
            help="With --every: the listing requests the polling cadence may plan per hour "
            "(default: SENTPIPE_MAX_REQUESTS_PER_HOUR or 3000).",
        ),
    ] = None,
    wait: Wait = False,
    sink: Sink = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
    every: Every = None,
    jitter: Jitter = None,
    metrics_file: MetricsFile = None,
) -> None:
    """Scrape subreddits into the configured sinks: posts and new comments from the
    group listings (several subreddits per request), comment trees where they cannot
    serve (first runs, --since, gaps, --comments-from trees). Topics (--topic, YAML
    `topics:`) add their posts from Reddit's search, down to each topic's own mark.

    Exit codes: 0 done (also when stopped by --max-*), 1 finished with failures,
    2 usage or configuration error, 3 database or network unreachable, 4 lock held.
    With --every: runs until SIGTERM/SIGINT, then 0.
    """
    from sentiment_pipeline.cli.console import setup_logging
    from sentiment_pipeline.scrape import (
        RedditScrapeOptions,
        TargetOverrides,
        resolve_targets,
        scrape_reddit,
        tree_template,
        with_topic_flags,
    )
    from sentiment_pipeline.sources.reddit.topics import topic_searches
    from sentiment_pipeline.sources.topic import topics_from
    from sentiment_pipeline.timeparse import parse_moment

    if quiet:
        setup_logging(quiet=True)
    overrides = TargetOverrides(
        sort=_choice(sort, Sorts, "--sort"),
        time_filter=_choice(time_filter, TimeFilters, "--time-filter"),
        limit=limit,
        comments=comments,
        more_comments=more_comments,
        comment_depth=comment_depth,
    )
    settings = settings_from(
        ctx,
        sinks=sink,
        comment_refresh_hours=refresh_hours,
        comments_from=_choice(comments_from, CommentSources, "--comments-from"),
        max_requests_per_hour=max_requests_per_hour,
    )
    settings = with_topic_flags(settings, topic or [])
    topics = topics_from(settings.topics)
    topic_searches(topics)  # a topic Reddit's search cannot narrow, without scope: exit 2
    targets = resolve_targets(
        settings.subreddits, subreddit or [], overrides, topics=topics, topics_only=topics_only
    )
    options = RedditScrapeOptions(
        since=parse_moment(since, "--since") if since is not None else None,
        refresh_hours=settings.comment_refresh_hours,
        max_requests=max_requests,
        max_duration=max_duration,
        wait_for_lock=wait,
        comments_from=settings.comments_from,
        follow=_follow_state(every, settings.max_requests_per_hour),
        tree_template=tree_template(overrides),
    )

    def run_once(_stop: object) -> Outcome:
        from sentiment_pipeline.service import figures_from_run

        with ScrapeProgress(enabled=not (quiet or as_json)) as progress:
            result = scrape_reddit(
                settings, targets, options, dry_run=dry_run, on_progress=progress
            )
        render_scrape(result, as_json=as_json, quiet=quiet)
        return Outcome(int(result.exit_code), figures_from_run(result), result.next_in)

    serve(
        ctx,
        "scrape",
        run_once,
        every=every,
        jitter=jitter,
        metrics_file=metrics_file,
        metrics_dir=settings.metrics_dir,
        quiet=quiet,
        database=None if dry_run else settings.database,  # a dry run records nothing
    )


def _follow_state(every: str | None, budget: int) -> Any:
    """`--every`'s memory between runs (activity, due times); None for one run. A bad
    duration is left to `serve`, which names the option."""
    from sentiment_pipeline.errors import ConfigError
    from sentiment_pipeline.sources.reddit.follow import FollowState
    from sentiment_pipeline.timeparse import parse_duration

    if every is None:
        return None
    try:
        seconds = parse_duration(every, "--every").total_seconds()
    except ConfigError:
        return None
    return FollowState(every=seconds, budget_per_hour=float(budget))


def render_scrape(result: ScrapeResult, as_json: bool = False, quiet: bool = False) -> None:
    """Per-subreddit lines or table, then the common run summary."""
    from sentiment_pipeline.cli.console import is_terminal, log, out_console
    from sentiment_pipeline.cli.render import render_result

    if not (as_json or quiet):
        subs = result.report.subreddits
        if is_terminal():
            out_console.print(_table(subs))
        else:
            for name, s in subs.items():
                log(
                    f"r/{name}: {s.status}, {s.submissions:,} posts, {s.comments:,} comments, "
                    f"{s.requests:,} requests, {s.rate_limit_wait:.0f} s rate-limit wait"
                )
        for path, group in result.report.groups.items():
            log(_group_line(path, group))
        for name, stats in result.report.topics.items():
            log(_topic_line(name, stats))
        requests = result.report.requests
        log(f"{requests.total:,} Reddit requests ({requests.token} token)")
    render_result(result, as_json=as_json, quiet=quiet)


def _group_line(path: str, group: GroupStats) -> str:
    """One group's poll: items, listing requests, the rates it was planned from."""
    line = (
        f"group {path}: {group.status}, {group.posts:,} posts, {group.comments:,} comments, "
        f"{group.requests:,} listing requests; observed {group.posts_per_hour:,.1f} posts/h, "
        f"{group.comments_per_hour:,.1f} comments/h"
    )
    if group.interval is not None:
        line += f"; next poll in {group.interval:,.0f} s"
    for member, how in group.gaps.items():
        line += f"; gap in r/{member}: {how}"
    return line


def _topic_line(name: str, stats: TopicStats) -> str:
    """One topic's search: `topic tesla: 12 posts (3 new), 2 requests`, and more."""
    if stats.search == "scope":
        return f"topic {name}: no search (Reddit cannot narrow the query); posts from its scope"
    line = (
        f"topic {name}: {stats.submissions:,} posts ({stats.new:,} new), "
        f"{stats.requests:,} requests"
    )
    if stats.found != stats.submissions:
        line += f"; {stats.found:,} search results"
    if stats.comment_trees:
        line += f"; {stats.comment_trees:,} comment trees, {stats.comments:,} comments"
    if stats.status not in ("done",):
        line += f"; {stats.status}"
    if stats.capped:
        line += "; capped"
    return line


def _table(subs: dict[str, SubredditStats]) -> Any:
    from rich.table import Table

    table = Table(
        "subreddit",
        "status",
        "posts",
        "comments",
        "trees",
        "requests",
        "rate-limit wait",
        title="reddit",
    )
    for name, s in subs.items():
        table.add_row(
            f"r/{name}",
            s.status,
            f"{s.submissions:,}",
            f"{s.comments:,}",
            f"{s.comment_trees:,}",
            f"{s.requests:,}",
            f"{s.rate_limit_wait:.0f} s",
        )
    return table


class ScrapeProgress:
    """A live per-subreddit table on a terminal; periodic log lines otherwise."""

    def __init__(self, enabled: bool = True) -> None:
        from sentiment_pipeline.cli.render import ProgressReporter

        self.enabled = enabled
        self._result: ScrapeResult | None = None
        self._live: Any = None
        self._lines = ProgressReporter("scraping", enabled=enabled)

    def __enter__(self) -> ScrapeProgress:
        from sentiment_pipeline.cli.console import err_console, is_terminal

        if self.enabled and is_terminal():
            from rich.live import Live

            self._live = Live(
                get_renderable=self._render,
                console=err_console,
                refresh_per_second=4,
                transient=True,
            )
            self._live.__enter__()
        return self

    def _render(self) -> Any:
        from rich.text import Text

        if self._result is None:
            return Text("connecting to Reddit…")
        return _table(self._result.report.subreddits)

    def __call__(self, result: ScrapeResult) -> None:
        self._result = result
        if self._live is None:
            self._lines(result)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)


ListNames = ("top", "new", "best", "ask", "show", "job")


@app.command("hn")
def hn(
    ctx: typer.Context,
    list_name: Annotated[
        list[str] | None,
        typer.Option(
            "--list",
            "-l",
            metavar="LIST",
            help=f"Story list (repeatable or comma-separated): {', '.join(ListNames)}. "
            "Default: the `hn_lists:` of the YAML config.",
        ),
    ] = None,
    topic: TopicFlag = None,
    topics_only: TopicsOnly = False,
    since: Since = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=500,
            help="Stories per list at most (default: SENTPIPE_HN_LIST_LIMIT or 100).",
        ),
    ] = None,
    max_requests: MaxRequests = None,
    max_duration: MaxDuration = None,
    wait: Wait = False,
    sink: Sink = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
    every: Every = None,
    jitter: Jitter = None,
    metrics_file: MetricsFile = None,
) -> None:
    """Scrape Hacker News into the configured sinks: the stories of its lists (--list)
    and the stories and comments of the topics (--topic, YAML `topics:`) from Algolia's
    search, each story with its whole comment thread in one request. Stories already
    stored cost nothing; a run with nothing new costs one request per list or topic.
    --since backfills lists and topics through the search.

    Exit codes: 0 done (also when stopped by --max-*), 1 finished with failures,
    2 usage or configuration error, 3 database or network unreachable, 4 lock held.
    With --every: runs until SIGTERM/SIGINT, then 0.
    """
    from sentiment_pipeline.cli.console import setup_logging
    from sentiment_pipeline.scrape import with_topic_flags
    from sentiment_pipeline.scrape.hackernews import (
        HNScrapeOptions,
        resolve_hn_targets,
        scrape_hn,
    )
    from sentiment_pipeline.timeparse import parse_moment

    if quiet:
        setup_logging(quiet=True)
    settings = settings_from(ctx, sinks=sink, hn_list_limit=limit)
    settings = with_topic_flags(settings, topic or [])
    targets = resolve_hn_targets(settings, list_name or [], topics_only=topics_only)
    options = HNScrapeOptions(
        since=parse_moment(since, "--since") if since is not None else None,
        limit=settings.hn_list_limit,
        max_requests=max_requests,
        max_duration=max_duration,
        wait_for_lock=wait,
    )

    def run_once(_stop: object) -> Outcome:
        from sentiment_pipeline.cli.render import ProgressReporter
        from sentiment_pipeline.service import figures_from_hn_scrape

        with ProgressReporter("scraping Hacker News", enabled=not (quiet or as_json)) as progress:
            result = scrape_hn(settings, targets, options, dry_run=dry_run, on_progress=progress)
        render_hn(result, as_json=as_json, quiet=quiet)
        return Outcome(int(result.exit_code), figures_from_hn_scrape(result))

    serve(
        ctx,
        "scrape_hn",  # its own metrics file, sentpipe_scrape_hn.prom, next to Reddit's
        run_once,
        every=every,
        jitter=jitter,
        metrics_file=metrics_file,
        metrics_dir=settings.metrics_dir,
        quiet=quiet,
        database=None if dry_run else settings.database,  # a dry run records nothing
    )


def render_hn(result: HNScrapeResult, as_json: bool = False, quiet: bool = False) -> None:
    """One line per list or topic, the requests by route, then the run summary."""
    from sentiment_pipeline.cli.console import log
    from sentiment_pipeline.cli.render import render_result

    if not (as_json or quiet):
        for name, stats in result.report.targets.items():
            line = (
                f"{name}: {stats.status}, {stats.stories:,} stories, "
                f"{stats.comments:,} comments, {stats.threads:,} threads, "
                f"{stats.requests:,} requests"
            )
            if stats.hits:
                line += f"; {stats.hits:,} search hits"
            if stats.known:
                line += f"; {stats.known:,} known"
            if stats.items:
                line += f"; {stats.items:,} items from the Firebase API"
            log(line + ("; capped" if stats.capped else ""))
        routes = ", ".join(
            f"{route} {n:,}"
            for route, n in sorted(result.report.requests.items())
            if route != "total"
        )
        total = result.report.requests.get("total", 0)
        log(f"{total:,} Hacker News requests" + (f" ({routes})" if routes else ""))
    render_result(result, as_json=as_json, quiet=quiet)
