"""Request benchmark: following Reddit through the group listings against the tree strategy.

Run: .venv/bin/python bench/requests.py [--hours 24] [--every 300] [--subreddits 20]
     [--parts abc]

Against the fake Reddit API (test double; rate pacing off) on a clock of its own, which
starts in the past and is advanced poll by poll, so a day plays in minutes:

  (a) 50 quiet subreddits with nothing new: the requests of a whole `sentpipe scrape
      reddit` run besides the token (the installed command against the fake in its own
      process), `--comments-from auto` (goal <= 2) against `trees` (one listing per
      subreddit);
  (b) a simulated day for N subreddits whose activity is heavy-tailed (comments a day
      log-spaced from 10 to 20,000, posts a tenth of that, 10% of comments on posts more
      than 3 days old), polled as `scrape reddit --every 5m` polls (the planner's own
      cadence, `FollowState` on the fake's clock), against today's strategy on the same
      day (same seed): `--comments-from trees` every 5 minutes plus `refresh reddit`
      every hour on its 1h,24h,72h schedule. Printed: requests per stored comment (goal
      <= 0.02), the share of the fake's comments stored (goal 100%), the delay from a
      comment's creation to the poll that stored it (goal: median <= the interval), the
      busiest hour's requests against `--max-requests-per-hour` (3,000), gaps;
  (c) peak RSS of a whole `sentpipe scrape reddit` process (start-up included) following
      50 and then 500 quiet subreddits, a run in the steady state (goal: flat).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.fake_reddit import (
    FakeRedditConfig,
    RunningFakeReddit,
    SubredditSpec,
    serve_in_thread,
)
from sentiment_pipeline.fake_reddit.config import ManualClock
from sentiment_pipeline.fake_reddit.presets import NO_PACING_RATE_LIMIT
from sentiment_pipeline.refresh import RefreshOptions, refresh_reddit
from sentiment_pipeline.scrape import RedditScrapeOptions, ScrapeResult, scrape_reddit
from sentiment_pipeline.settings import Settings, SubredditTarget, load_settings
from sentiment_pipeline.sources.reddit.follow import FollowState

BUDGET = 3000  # --max-requests-per-hour's default


def heavy_tailed(count: int) -> list[float]:
    """Comments a day per subreddit, log-spaced from 10 to 20,000: a few busy
    subreddits carry most of the comments, as on Reddit."""
    if count == 1:
        return [20_000.0]
    return [10 * (2000 ** (i / (count - 1))) for i in range(count)]


def day_specs(count: int, seed: int) -> tuple[SubredditSpec, ...]:
    """The simulated subreddits: 60 generated posts each over the 5 days before the
    day starts (so some posts are days old), then live posts and comments."""
    return tuple(
        SubredditSpec(
            f"sub{i:02d}",
            posts=60,
            seed=seed + i,
            comments_per_post=8,
            post_interval_seconds=5 * 86400 / 60,
            newest_age_seconds=1800,
            posts_per_day=max(1.0, per_day / 10),
            comments_per_day=per_day,
            old_post_share=0.1,
        )
        for i, per_day in enumerate(heavy_tailed(count))
    )


def settings_for(fake: Any, data_dir: Path, **extra: Any) -> Settings:
    settings = load_settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'bench.db'}",
        reddit_client_id=fake.config.client_id,
        reddit_client_secret=fake.config.client_secret,
        reddit_oauth_url=fake.url,
        reddit_url=fake.url,
        sinks=["database"],
        **extra,
    )
    init_db(settings.database)
    return settings


def api_requests(result: ScrapeResult) -> int:
    """Requests of a scrape besides the token's."""
    return result.report.requests.total - result.report.requests.token


# -- (a) quiet subreddits -----------------------------------------------------------


class QuietFake:
    """The fake in its own process serving `count` quiet subreddits (a post every 8
    hours or so, the newest between 1 and 9 hours old), and the installed `sentpipe`
    command pointed at it, with its own data folder (the embedded SQLite default)."""

    def __init__(self, prefix: str, count: int, work: Path) -> None:
        self.names = [f"{prefix}{i:03d}" for i in range(count)]
        presets = [
            f"{n}=3,comments:2,interval:28800,age:{3600 + 60 * i}" for i, n in enumerate(self.names)
        ]
        args = [sys.executable, "-m", "sentiment_pipeline.fake_reddit", "--port", "0"]
        args += ["--no-pacing", *(a for preset in presets for a in ("--subreddit", preset))]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        url = self.process.stdout.readline().strip().rsplit(" ", 1)[-1]
        self.env = {
            **os.environ,
            "SENTPIPE_DATA_DIR": str(work / prefix),
            "SENTPIPE_REDDIT_CLIENT_ID": "fake-client-id",
            "SENTPIPE_REDDIT_CLIENT_SECRET": "fake-client-secret",
            "SENTPIPE_REDDIT_OAUTH_URL": url,
            "SENTPIPE_REDDIT_URL": url,
        }
        self.env.pop("SENTPIPE_DATABASE_URL", None)

    def command(self, *extra: str) -> list[str]:
        sentpipe = str(Path(sys.executable).with_name("sentpipe"))
        return [sentpipe, "scrape", "reddit", "-s", ",".join(self.names), *extra]

    def requests(self, *extra: str) -> int:
        """One `sentpipe scrape reddit --json` run: its requests besides the token."""
        done = subprocess.run(
            self.command("--json", *extra), env=self.env, check=True, capture_output=True
        )
        totals = json.loads(done.stdout)["extra"]["requests"]
        return int(totals["total"] - totals["token"])

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def quiet_run(strategy: str, count: int, work: Path) -> tuple[int, int]:
    """Requests (besides the token) of a first and a second `sentpipe scrape reddit
    --comments-from strategy` over `count` quiet subreddits with nothing new."""
    fake = QuietFake(f"quiet{strategy}", count, work)
    try:
        first = fake.requests("--comments-from", strategy)
        return first, fake.requests("--comments-from", strategy)
    finally:
        fake.close()


# -- (b) a simulated day --------------------------------------------------------------


@dataclass
class Day:
    """What one strategy did over the day: requests per poll (fake clock, count), and
    when each comment was first stored (fake clock)."""

    name: str
    polls: list[tuple[float, int]] = field(default_factory=list)
    stored_at: dict[str, float] = field(default_factory=dict)
    warmup: int = 0
    gaps: int = 0
    tokens: int = 0

    @property
    def requests(self) -> int:
        return sum(n for _, n in self.polls)

    def busiest_hour(self) -> int:
        """The most requests in any hour-long window of the day."""
        best, start = 0, 0
        running = 0
        for end in range(len(self.polls)):
            running += self.polls[end][1]
            while self.polls[end][0] - self.polls[start][0] >= 3600:
                running -= self.polls[start][1]
                start += 1
            best = max(best, running)
        return best


class NewComments:
    """The comment ids stored since the last look (SQLite rowids only grow)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rowid = 0

    def __call__(self) -> list[str]:
        with sqlite3.connect(self.path) as db:
            rows = db.execute(
                "SELECT rowid, id FROM raw_events WHERE rowid > ? AND event_type = 'comment'",
                (self.rowid,),
            ).fetchall()
            top = db.execute("SELECT max(rowid) FROM raw_events").fetchone()[0]
        self.rowid = top or self.rowid
        return [ident for _, ident in rows]


def play_day(
    name: str,
    specs: tuple[SubredditSpec, ...],
    start: float,
    hours: float,
    every: float,
    work: Path,
    poll: Callable[[Settings, list[SubredditTarget], ManualClock, Day], float | None],
    started: Callable[[RunningFakeReddit], None] | None = None,
    unfollowed: tuple[SubredditSpec, ...] = (),
    **extra: Any,
) -> tuple[Day, list[tuple[str, str, float]]]:
    """Play the day on a fresh fake (same seed, same activity) and database: a first
    poll at `start` (first sight: trees), then `poll(...)` until the day ends, each
    returning seconds until its next poll (None: `every`). Returns what was done and
    the comments the fake created during the day. `started` gets the fake's handle
    before the first poll (its store stays readable after the day); `extra` goes to
    the settings (`topics=...`); `unfollowed` subreddits are served but not polled."""
    clock = ManualClock(start)
    config = FakeRedditConfig(
        subreddits=specs + unfollowed,
        rate_limit=NO_PACING_RATE_LIMIT,
        clock=clock,
        token_ttl_seconds=10 * 86400,
    )
    targets = [SubredditTarget(name=s.name) for s in specs]
    day = Day(name)
    end = start + hours * 3600
    with serve_in_thread(config) as fake:
        settings = settings_for(fake, work / name, **extra)
        if started is not None:
            started(fake)
        fresh = NewComments(settings.database.sqlite_path)
        poll(settings, targets, clock, day)  # the first run: first sight, trees
        day.warmup, day.polls = day.requests, []
        fresh()
        while clock() < end:
            step = every if (planned := poll(settings, targets, clock, day)) is None else planned
            now = clock()
            for ident in fresh():
                day.stored_at.setdefault(ident, now)
            if now >= end:
                break
            fake.advance(min(max(step, 1.0), end - now))
        poll(settings, targets, clock, day)  # the last poll, at the day's end
        for ident in fresh():
            day.stored_at.setdefault(ident, clock())
        created = [c for c in fake.created(since=start) if c[0].startswith("t1_")]
    return day, created


def listing_poller(
    every: float, seen: Callable[[ScrapeResult], None] | None = None
) -> Callable[..., float | None]:
    """`scrape reddit --every` with the group listings: one `FollowState` on the fake's
    clock across polls; each poll touches only the groups due. `seen` gets each poll's
    result (after its requests are counted)."""
    state: dict[str, FollowState] = {}

    def poll(
        settings: Settings, targets: list[SubredditTarget], clock: ManualClock, day: Day
    ) -> float | None:
        follow = state.setdefault(
            "follow", FollowState(every=every, budget_per_hour=BUDGET, clock=clock)
        )
        result = scrape_reddit(
            settings, targets, RedditScrapeOptions(comments_from="auto", follow=follow)
        )
        day.polls.append((clock(), api_requests(result)))
        day.tokens += result.report.requests.token
        day.gaps += sum(len(g.gaps) for g in result.report.groups.values())
        if seen is not None:
            seen(result)
        return result.next_in

    return poll


def tree_poller(every: float) -> Callable[..., float | None]:
    """Today's strategy: `--comments-from trees` every poll, `refresh reddit` every
    hour (schedule 1h,24h,72h) measured on the fake's clock."""
    last_refresh: dict[str, float] = {}

    def poll(
        settings: Settings, targets: list[SubredditTarget], clock: ManualClock, day: Day
    ) -> float | None:
        result = scrape_reddit(settings, targets, RedditScrapeOptions(comments_from="trees"))
        spent = api_requests(result)
        day.tokens += result.report.requests.token
        now = clock()
        if now - last_refresh.setdefault("at", now) >= 3600:
            last_refresh["at"] = now
            moment = datetime.fromtimestamp(now, UTC)
            refreshed = refresh_reddit(settings, RefreshOptions(now=moment))
            spent += refreshed.report.requests["total"] - refreshed.report.requests["token"]
            day.tokens += refreshed.report.requests["token"]
        day.polls.append((now, spent))
        return every

    return poll


def describe(day: Day, created: list[tuple[str, str, float]], every: float) -> dict[str, float]:
    """The day's figures: requests per stored comment, share stored, delays (s)."""
    born = {ident: at for ident, _, at in created}
    stored = [ident for ident in born if ident in day.stored_at]
    delays = sorted(max(0.0, day.stored_at[i] - born[i]) for i in stored)
    figures = {
        "comments_created": len(born),
        "comments_stored": len(stored),
        "share_stored": len(stored) / len(born) if born else 1.0,
        "requests": day.requests,
        "requests_per_comment": day.requests / max(1, len(stored)),
        "median_delay": statistics.median(delays) if delays else math.nan,
        "p95_delay": delays[int(0.95 * (len(delays) - 1))] if delays else math.nan,
        "busiest_hour": day.busiest_hour(),
        "polls": len(day.polls),
        "gaps": day.gaps,
    }
    print(
        f"  {day.name:8s} {len(born):>7,} comments created, {len(stored):>7,} stored "
        f"({figures['share_stored']:.2%}); {day.requests:>6,} requests "
        f"({figures['requests_per_comment']:.4f} per stored comment) in {len(day.polls)} polls, "
        f"busiest hour {figures['busiest_hour']:,}; delay median "
        f"{figures['median_delay'] / 60:.1f} min, p95 {figures['p95_delay'] / 60:.1f} min; "
        f"{day.gaps} gaps; first run {day.warmup:,} requests, {day.tokens} token requests",
        flush=True,
    )
    return figures


# -- (c) peak RSS of a whole process --------------------------------------------------


def peak_rss(count: int, work: Path) -> int:
    """KiB of peak RSS of a `sentpipe scrape reddit` over `count` quiet subreddits in
    their steady state (two runs before: first sight, then the groups' first poll,
    which reads each subreddit's newest post again)."""
    fake = QuietFake(f"rss{count}x", count, work)
    try:
        command = fake.command("--quiet")
        for _ in range(2):
            subprocess.run(command, env=fake.env, check=True, capture_output=True)
        measure = (
            "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
            "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        out = subprocess.run(
            [sys.executable, "-c", measure, *command], env=fake.env, check=True, capture_output=True
        )
        return int(out.stdout.decode().strip())
    finally:
        fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours")
    parser.add_argument("--every", type=float, default=300.0, help="seconds (--every)")
    parser.add_argument("--subreddits", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parts", default="abc", help="which parts to run (a, b, c)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    work = Path(tempfile.mkdtemp(prefix="sentpipe-bench-requests-"))
    clock_started = time.perf_counter()

    if "a" in args.parts:
        quiet_part(work)
    if "b" in args.parts:
        day_part(args, work)
    if "c" in args.parts:
        rss_part(work)
    print(f"bench took {time.perf_counter() - clock_started:.0f} s")


def quiet_part(work: Path) -> None:
    print("(a) 50 quiet subreddits, nothing new: requests of a run besides the token")
    auto_first, auto_second = quiet_run("auto", 50, work)
    trees_first, trees_second = quiet_run("trees", 50, work)
    print(f"  auto  : first run {auto_first:,}, then {auto_second:,} per run (goal <= 2)")
    print(f"  trees : first run {trees_first:,}, then {trees_second:,} per run")
    print(f"  ratio : {auto_second / trees_second:.3f} of the tree strategy's requests")


def day_part(args: argparse.Namespace, work: Path) -> None:

    print(
        f"(b) a simulated {args.hours:g} h for {args.subreddits} subreddits "
        f"({', '.join(f'{c:,.0f}' for c in heavy_tailed(args.subreddits))} comments a day), "
        f"polled as --every {args.every:g}s"
    )
    specs = day_specs(args.subreddits, args.seed)
    start = time.time() - args.hours * 3600 - 600  # the day ends before our clock's now
    auto_day, created = play_day(
        "auto", specs, start, args.hours, args.every, work, listing_poller(args.every)
    )
    auto = describe(auto_day, created, args.every)
    tree_day, tree_created = play_day(
        "trees", specs, start, args.hours, args.every, work, tree_poller(args.every)
    )
    trees = describe(tree_day, tree_created, args.every)
    ratio = auto["requests_per_comment"] / trees["requests_per_comment"]
    print(
        f"  goals: <= 0.02 requests per stored comment: {auto['requests_per_comment']:.4f} "
        f"({ratio:.3f} x the tree strategy's {trees['requests_per_comment']:.4f}); "
        f"100% stored: {auto['share_stored']:.2%}; median delay <= {args.every / 60:g} min: "
        f"{auto['median_delay'] / 60:.1f} min; busiest hour {auto['busiest_hour']:,} "
        f"<= {BUDGET:,}"
    )


def rss_part(work: Path) -> None:
    print("(c) peak RSS of a whole `sentpipe scrape reddit` over quiet subreddits, steady state")
    small = peak_rss(50, work)
    large = peak_rss(500, work)
    print(
        f"  50 subreddits: {small / 1024:.1f} MiB; 500: {large / 1024:.1f} MiB "
        f"(ratio {large / small:.2f}, goal: flat)"
    )


if __name__ == "__main__":
    main()
