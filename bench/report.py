"""Report benchmark: `sentpipe sentiment report --since 365d` over 10,000,000 scores.

Goal (issue 27): under 0.5 s for the whole process (interpreter start-up included) and
under 100 MB peak RSS, on TimescaleDB, PostgreSQL and SQLite, reading the daily rollup.

The scores look like a year of real collection: 50 subreddits whose activity is
heavy-tailed (subreddit k gets a share proportional to 1/(k+1)^1.2, so the largest has
about 40 times the 50th's), times spread over the 365 days before now with a daily
cycle, compound as VADER gives it on comments (a third exactly 0.0, the rest spread
over [-1, 1] to 4 places), labels by VADER's ±0.05 thresholds, languages mostly `en`,
some `und`, `de`, `es`; a tenth of the events linked to one of four topics. They are
written straight into `sentiment_scores` (the scorer's own throughput is
bench/sentiment.py's business), then `sentpipe sentiment rollup --rebuild` fills the
rollup (its time is printed too).

Baseline, in the same run: the same report computed from the scores themselves, the
way `sentiment report` read them before the rollup (its `report_sql`, one query, in
this process: no start-up), and the whole process of a report with hourly buckets over
30 days (which still reads the scores). Yardsticks of start-up, also in the same run:
`python -c 'import typer, pydantic_settings, psycopg'` (what every database command
imports) and a report of 2 hours.

    python bench/report.py --url postgresql://sentpipe:sentpipe@127.0.0.1:54329/postgres
    python bench/report.py --url postgresql://sentpipe:sentpipe@127.0.0.1:5432/postgres
    python bench/report.py --sqlite
    python bench/report.py --sqlite --scores 200000        # does it run

Each timed command runs `--repeat` times (default 5) after one warm-up run, without
PYTHONDONTWRITEBYTECODE (`_data.child_env`); the table gives min / median.
Peak RSS is the child's VmHWM, polled every 2 ms.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import child_env, fresh_database, measured

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url

SENTPIPE = str(Path(sys.executable).with_name("sentpipe"))
SUBREDDITS = 50
MODEL = "vader-3.3.2+clean2"
GOAL_SECONDS, GOAL_MB = 0.5, 100


def _pg_fill(n: int, start: datetime) -> list[str]:
    """SQL that writes `n` scores and their topic links on PostgreSQL."""
    # subreddit k with probability ∝ 1/(k+1)^1.2: inverse of the cumulative share table
    weights = [1 / (k + 1) ** 1.2 for k in range(SUBREDDITS)]
    total = sum(weights)
    bounds, running = [], 0.0
    for weight in weights[:-1]:
        running += weight / total
        bounds.append(f"{running:.6f}")
    cuts = ",".join(bounds)
    return [
        "CREATE TEMP TABLE cuts AS SELECT ord - 1 AS k, c FROM unnest(ARRAY["
        + cuts
        + "]::float8[]) WITH ORDINALITY AS t(c, ord)",
        "CREATE TEMP TABLE draws AS SELECT g, random() AS pick, random() AS day, "
        "random() AS hour, random() AS tone, random() AS lang FROM generate_series(1, "
        f"{n}) AS g",
        "INSERT INTO sentiment_scores (id, occurred_at, model, source, source_id, event_type, "
        "compound, pos, neu, neg, label, text_chars, language, scored_at) "
        f"SELECT 't1_' || g, timestamptz '{start.isoformat()}' + floor(day * 365) * "
        "interval '1 day' + (12 + 10 * sin(hour * 6.2832)) * interval '1 hour' "
        "+ hour * interval '59 minutes', "
        f"'{MODEL}', 'reddit', 'sub' || (SELECT count(*) FROM cuts WHERE c < pick), "
        "CASE WHEN g % 4 = 0 THEN 'submission' ELSE 'comment' END, x, 0.1, 0.8, 0.1, "
        "CASE WHEN x >= 0.05 THEN 'positive' WHEN x <= -0.05 THEN 'negative' "
        "ELSE 'neutral' END, 40 + (g % 600), "
        "CASE WHEN lang < 0.85 THEN 'en' WHEN lang < 0.95 THEN 'und' WHEN lang < 0.98 "
        "THEN 'de' ELSE 'es' END, now() FROM (SELECT *, CASE WHEN tone < 0.33 THEN 0.0 "
        "ELSE round((tone * 2 - 1)::numeric, 4)::float8 END AS x FROM draws) d",
        "INSERT INTO event_topics (id, occurred_at, topic, via) SELECT id, occurred_at, "
        "'topic' || (abs(hashtext(id)) % 4), CASE WHEN abs(hashtext(id)) % 3 = 0 THEN "
        "'post' ELSE 'text' END FROM sentiment_scores WHERE abs(hashtext(id)) % 10 = 0",
        "ANALYZE",
    ]


def load_pg(url: DatabaseURL, n: int, start: datetime) -> None:
    import psycopg

    with closing(psycopg.connect(url.libpq, autocommit=True)) as connection:
        for sql in _pg_fill(n, start):
            connection.execute(sql)


def load_sqlite(url: DatabaseURL, n: int, start: datetime) -> None:
    """The same distributions as `_pg_fill`, drawn in Python and written in batches."""
    import random
    import sqlite3

    rng = random.Random(27)
    weights = [1 / (k + 1) ** 1.2 for k in range(SUBREDDITS)]
    subs = [f"sub{k}" for k in range(SUBREDDITS)]
    connection = sqlite3.connect(str(url.sqlite_path))
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    batch: list[tuple[Any, ...]] = []
    links: list[tuple[Any, ...]] = []

    def flush() -> None:
        connection.executemany(
            "INSERT INTO sentiment_scores (id, occurred_at, model, source, source_id, "
            "event_type, compound, pos, neu, neg, label, text_chars, language, scored_at) "
            "VALUES (?, ?, ?, 'reddit', ?, ?, ?, 0.1, 0.8, 0.1, ?, ?, ?, ?)",
            batch,
        )
        connection.executemany("INSERT INTO event_topics VALUES (?, ?, ?, ?)", links)
        batch.clear()
        links.clear()

    picks = rng.choices(subs, weights=weights, k=n)
    for g in range(1, n + 1):
        hour = rng.random()
        moment = (
            start
            + timedelta(days=int(rng.random() * 365), hours=12 + 10 * math.sin(hour * 6.2832))
            + timedelta(minutes=59 * hour)
        )
        at = moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        tone = rng.random()
        x = 0.0 if tone < 0.33 else round(tone * 2 - 1, 4)
        label = "positive" if x >= 0.05 else "negative" if x <= -0.05 else "neutral"
        lang = rng.random()
        code = "en" if lang < 0.85 else "und" if lang < 0.95 else "de" if lang < 0.98 else "es"
        kind = "submission" if g % 4 == 0 else "comment"
        ident = f"t1_{g}"
        batch.append((ident, at, MODEL, picks[g - 1], kind, x, label, 40 + g % 600, code, at))
        if g % 10 == 0:
            links.append((ident, at, f"topic{g % 4}", "post" if g % 3 == 0 else "text"))
        if len(batch) >= 50_000:
            flush()
    flush()
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `command` run to its end (`_data.measured`)."""
    return measured(command, env, subprocess.DEVNULL)


def repeated(command: list[str], env: dict[str, str], repeat: int) -> dict[str, float]:
    """min / median seconds and peak RSS of `repeat` runs, after one warm-up run (the
    bytecode written, the files in the page cache: as an installed sentpipe runs)."""
    timed(command, env)
    runs = [timed(command, env) for _ in range(repeat)]
    seconds = [s for s, _ in runs]
    return {
        "min": min(seconds),
        "median": statistics.median(seconds),
        "rss": max(r for _, r in runs),
    }


def raw_report_seconds(url: DatabaseURL) -> tuple[float, int]:
    """The 365-day daily report from the scores alone (the old way), in this process."""
    from sentiment_pipeline.sentiment.report import SentimentReport, open_store, report_sql

    since = datetime.now(UTC) - timedelta(days=365)
    report = SentimentReport(MODEL, "1d", since)
    store = open_store(url)
    try:
        timescale = url.backend == "postgresql" and bool(
            store._conn.execute(
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()[0]
        )
        sql, params = report_sql(report, url.backend, timescale)
        started = time.perf_counter()
        rows = store._conn.execute(sql, params).fetchall()
        return time.perf_counter() - started, len(rows)
    finally:
        store.close()


def _reused(admin_url: str, scores: int) -> DatabaseURL | None:
    """The benchmark's database from an earlier `--reuse` run, if it holds `scores`."""
    import psycopg
    from _data import scratch_url

    url = scratch_url(admin_url, "sentpipe_bench_report")
    try:
        with closing(psycopg.connect(url.libpq)) as connection:
            row = connection.execute("SELECT count(*) FROM sentiment_scores").fetchone()
    except psycopg.Error:
        return None
    return url if row is not None and row[0] == scores else None


def run(url: DatabaseURL, scores: int, repeat: int, name: str) -> None:
    env = {**child_env(), "SENTPIPE_DATABASE_URL": _url_text(url)}
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=364
    )
    print(f"== {name}: loading {scores:,} scores over 365 days, {SUBREDDITS} subreddits")
    began = time.perf_counter()
    (load_pg if url.backend == "postgresql" else load_sqlite)(url, scores, start)
    print(f"   loaded in {time.perf_counter() - began:.0f} s")
    rebuild = timed([SENTPIPE, "sentiment", "rollup", "--rebuild"], env)
    print(f"   rollup --rebuild: {rebuild[0]:.1f} s, peak RSS {rebuild[1]:.0f} MB")
    measure(url, repeat, name)


def measure(url: DatabaseURL, repeat: int, name: str) -> None:
    """Time the reports on the loaded `url`."""
    env = {**child_env(), "SENTPIPE_DATABASE_URL": _url_text(url)}
    report = [SENTPIPE, "sentiment", "report", "--since", "365d"]
    figures = repeated(report, env, repeat)
    as_json = repeated([*report, "--json"], env, repeat)
    weekly = repeated([*report, "--json", "--bucket", "7d", "--by", "topic"], env, repeat)
    small = repeated([SENTPIPE, "sentiment", "report", "--since", "2h"], env, repeat)
    imports = "import typer, pydantic_settings, psycopg"  # what every database command loads
    floor = repeated([sys.executable, "-c", imports], env, repeat)
    help_run = repeated([SENTPIPE, "--help"], env, repeat)
    hourly = repeated(
        [SENTPIPE, "sentiment", "report", "--since", "30d", "--bucket", "1h", "--json"],
        env,
        max(1, repeat // 2),
    )
    raw_seconds, rows = raw_report_seconds(url)
    print(f"   {'':52} {'min s':>7} {'median s':>9} {'peak MB':>8}")
    for label, value in (
        ("report --since 365d (daily, rollup; table rows)", figures),
        ("report --since 365d --json", as_json),
        ("report --since 365d --bucket 7d --by topic --json", weekly),
        ("report --since 30d --bucket 1h --json (scores)", hourly),
        ("report --since 2h (start-up, connect, one query)", small),
        ("python -c 'import typer, pydantic_settings, psycopg'", floor),
        ("sentpipe --help", help_run),
    ):
        print(f"   {label:52} {value['min']:7.3f} {value['median']:9.3f} {value['rss']:8.0f}")
    print(f"   baseline: the same daily report from the scores: {raw_seconds:.2f} s query "
          f"alone ({rows:,} rows), {raw_seconds / figures['median']:.0f}x the whole "
          "rollup process")  # fmt: skip
    print(
        f"   above the libraries' import floor: {figures['median'] - floor['median']:.3f} s "
        f"(daily report), {small['median'] - floor['median']:.3f} s (2-hour report)"
    )
    ok = (
        max(figures["median"], as_json["median"]) < GOAL_SECONDS
        and max(figures["rss"], as_json["rss"]) < GOAL_MB
    )
    print(
        f"   goal < {GOAL_SECONDS} s and < {GOAL_MB} MB: {'met' if ok else 'NOT met'} "
        f"(median {figures['median']:.3f} s table, {as_json['median']:.3f} s JSON; "
        f"{max(figures['rss'], as_json['rss']):.0f} MB)"
    )


def _url_text(url: DatabaseURL) -> str:
    if url.backend == "sqlite":
        return f"sqlite:///{url.sqlite_path}"
    return url.libpq


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a PostgreSQL/TimescaleDB server (a scratch database)")
    parser.add_argument("--sqlite", action="store_true", help="a scratch SQLite file")
    parser.add_argument("--scores", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--reuse", action="store_true", help="keep and reuse a loaded database (PostgreSQL)"
    )
    args = parser.parse_args(argv)
    if not args.url and not args.sqlite:
        parser.error("give --url or --sqlite")
    if args.url:
        url = _reused(args.url, args.scores) if args.reuse else None
        if url is None:
            url = fresh_database(args.url, "sentpipe_bench_report")
            run(url, args.scores, args.repeat, url.backend)
        else:
            measure(url, args.repeat, url.backend)
    if args.sqlite:
        with tempfile.TemporaryDirectory() as folder:
            url = parse_database_url(f"sqlite:///{folder}/bench.db")
            init_db(url)
            run(url, args.scores, args.repeat, "sqlite")


if __name__ == "__main__":
    main()
