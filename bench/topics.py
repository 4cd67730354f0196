"""Topic benchmark: re-matching stored events (`sentpipe topics match`), and collecting a
topic from the fake Reddit's live activity.

Run: .venv/bin/python bench/topics.py [--events 1000000] [--url URL] [--parts ab]

  (b) `topics match` over N stored events (default 1,000,000) on TimescaleDB: the whole
      installed command (start-up included) matching one topic from scratch, events per
      second (goal >= 50,000, one process: the matcher is single-threaded) against a
      baseline in the same run, `psql \\copy` of the same columns to /dev/null (the
      read alone); peak RSS of the whole history against a tenth of it (`--since`):
      flat means the batches, not the history, set the memory. The events look like
      Reddit's: a fifth are posts (a 4-16 word title, a selftext empty for half and
      otherwise log-normal, median 60 words), the rest comments on earlier posts with
      log-normal lengths (median 18 words, a tail past 500), from a 5,000-word
      vocabulary with Zipf-like frequencies; about 1% mention the topic, some in the
      forms the query excludes or that are no whole word (`Nikola Tesla`, `teslas`).
  (a) see `collect_part`: recall and requests against the fake Reddit's live mode.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import fresh_database, scratch_url

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.dto import RawEventDTO, Validated, validate_record
from sentiment_pipeline.sinks.postgres import copy_rows, register_jsonb_text

QUERY = '(tesla OR "model 3" OR "model y") NOT "nikola tesla"'
MENTIONS = ("Tesla", "tesla", "model 3", "Model Y", "Nikola Tesla", "teslas", "TeslaCoil")
SENTPIPE = str(Path(sys.executable).with_name("sentpipe"))
COPY_IN = (
    "COPY raw_events (id, occurred_at, source, source_id, event_type, payload) "
    "FROM STDIN (FORMAT BINARY)"
)


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    """`size` made-up lower-case words of 2-10 letters."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(2, 10))) for _ in range(size)]


class Texts:
    """Reddit-like texts: Zipf-like word choice, log-normal lengths, planted mentions."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(self.rng)
        weights = [1 / (rank + 1) for rank in range(len(self.words))]
        total = sum(weights)
        self.cumulative = [sum(weights[: i + 1]) / total for i in range(0, len(weights), 1)]

    def words_of(self, count: int) -> str:
        chosen = self.rng.choices(self.words, cum_weights=self.cumulative, k=count)
        if self.rng.random() < 0.01:
            chosen.insert(self.rng.randrange(len(chosen) + 1), self.rng.choice(MENTIONS))
        return " ".join(chosen)

    def length(self, median: float, sigma: float = 1.0, cap: int = 2000) -> int:
        return max(1, min(cap, int(self.rng.lognormvariate(math.log(median), sigma))))


def events(count: int, seed: int = 7, start: float = 1_700_000_000.0) -> Iterator[RawEventDTO]:
    """`count` validated Reddit-like events over about 30 days (module docstring)."""
    texts = Texts(seed)
    rng = texts.rng
    posts: list[str] = []
    step = 30 * 86_400 / count
    for i in range(count):
        moment = start + i * step + rng.random() * step
        sub = f"sub{int(rng.paretovariate(1.2)) % 200}"
        if not posts or rng.random() < 0.2:
            ident = f"t3_{i:x}"
            posts.append(ident)
            selftext = "" if rng.random() < 0.5 else texts.words_of(texts.length(60, 1.2))
            payload: dict[str, Any] = {
                "title": texts.words_of(rng.randint(4, 16)),
                "selftext": selftext,
                "subreddit": sub,
                "author": f"user_{rng.randrange(100_000)}",
                "score": rng.randrange(0, 5000),
            }
            kind = "submission"
        else:
            ident = f"t1_{i:x}"
            link = posts[-1 - min(len(posts) - 1, int(rng.expovariate(1 / 50)))]
            payload = {
                "body": texts.words_of(texts.length(18, 1.1)),
                "link_id": link,
                "parent_id": link,
                "subreddit": sub,
                "author": f"user_{rng.randrange(100_000)}",
                "score": rng.randrange(-20, 2000),
            }
            kind = "comment"
        checked = validate_record(
            {
                "id": ident,
                "occurred_at": moment,
                "source": "reddit",
                "source_id": sub,
                "event_type": kind,
                "payload": payload,
            }
        )
        assert isinstance(checked, Validated)
        yield checked.event


def prepare(admin_url: str, count: int) -> DatabaseURL:
    """A database of `count` events (kept between runs of the same size)."""
    name = f"sentpipe_bench_topics_{count}"
    url = scratch_url(admin_url, name)
    try:
        with closing(psycopg.connect(url.libpq)) as conn:
            row = conn.execute("SELECT count(*) FROM raw_events").fetchone()
            if row is not None and row[0] == count:
                conn.execute("TRUNCATE event_topics, topic_matches")
                conn.commit()
                return url
    except psycopg.Error:
        pass
    url = fresh_database(admin_url, name)
    began = time.perf_counter()
    with closing(psycopg.connect(url.libpq, autocommit=True)) as conn:
        register_jsonb_text(conn)
        cur = conn.cursor()
        batch: list[RawEventDTO] = []
        for item in events(count):
            batch.append(item)
            if len(batch) == 20_000:
                with conn.transaction():
                    copy_rows(cur, COPY_IN, batch)
                batch = []
        if batch:
            with conn.transaction():
                copy_rows(cur, COPY_IN, batch)
        conn.execute("VACUUM ANALYZE raw_events")
    print(f"loaded {count:,} events in {time.perf_counter() - began:.0f} s")
    return url


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, peak RSS KiB) of one child process; raises if it fails."""
    began = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, _, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - began
    if child.returncode not in (None, 0) and child.returncode != 0:
        raise SystemExit(f"{command} failed")
    assert child.stdout is not None and child.stderr is not None
    out, err = child.stdout.read(), child.stderr.read()
    if usage.ru_maxrss == 0 or b"Error" in err:
        raise SystemExit(f"{' '.join(command)} failed: {err.decode()} {out.decode()}")
    return wall, usage.ru_maxrss


def baseline_read(url: DatabaseURL) -> float:
    """Seconds of `psql \\copy` of what a match reads (key, kind, title, texts, post)."""
    select = (
        "SELECT id, occurred_at, source, source_id, event_type, payload->>'title', "
        "payload->>'selftext', payload->>'body', payload->>'text', payload->>'link_id' "
        "FROM raw_events ORDER BY occurred_at, id"
    )
    began = time.perf_counter()
    subprocess.run(
        ["psql", url.libpq, "-q", "-c", f"\\copy ({select}) TO '/dev/null'"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - began


def match_part(admin_url: str, count: int, work: Path) -> None:
    url = prepare(admin_url, count)
    config = work / "topics.yml"
    config.write_text(f"topics:\n  tesla:\n    query: '{QUERY}'\n", encoding="utf-8")
    env = {**os.environ, "SENTPIPE_DATABASE_URL": url.libpq, "SENTPIPE_DATA_DIR": str(work)}
    command = [SENTPIPE, "-c", str(config), "topics", "match", "--topic", "tesla", "--quiet"]
    with closing(psycopg.connect(url.libpq)) as conn:
        row = conn.execute(
            "SELECT occurred_at FROM raw_events ORDER BY occurred_at DESC OFFSET %s LIMIT 1",
            (count // 10,),
        ).fetchone()
    assert row is not None
    tenth = row[0].isoformat()
    baseline = baseline_read(url)
    walls, rss_all = [], 0
    for _ in range(3):
        wall, rss_all = timed(command, env)
        walls.append(wall)
    wall = sorted(walls)[1]
    _, rss_tenth = timed([*command, "--since", tenth], env)
    with closing(psycopg.connect(url.libpq)) as conn:
        linked = conn.execute("SELECT via, count(*) FROM event_topics GROUP BY via").fetchall()
    rate, base_rate = count / wall, count / baseline
    print(f"(b) topics match over {count:,} events (TimescaleDB, whole command, median of 3):")
    print(f"    sentpipe topics match   {wall:6.1f} s  {rate:10,.0f} events/s  (goal >= 50,000)")
    print(f"    psql \\copy same columns {baseline:6.1f} s  {base_rate:10,.0f} events/s")
    print(f"    ratio to the bare read  {rate / base_rate:.2f}x")
    print(f"    links: {dict(linked)}")
    print(
        f"    peak RSS: all {rss_all / 1024:.1f} MiB, a tenth (--since) "
        f"{rss_tenth / 1024:.1f} MiB ({rss_all / rss_tenth:.2f}x; flat is ~1x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "SENTPIPE_TEST_TIMESCALE_URL", "postgresql://postgres@127.0.0.1:54329/postgres"
        ),
    )
    parser.add_argument("--parts", default="ab")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentpipe-bench-topics-") as folder:
        work = Path(folder)
        if "a" in args.parts:
            from topics_collect import collect_part

            collect_part(work)
        if "b" in args.parts:
            match_part(args.url, args.events, work)


if __name__ == "__main__":
    main()
