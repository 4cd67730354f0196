"""Deterministic Reddit-like raw records for benchmarks (shared by all bench scripts), and
the scratch databases they load them into.

Why a generator: benchmarks run 100k+ rows, and building them lazily keeps the harness's
own memory out of the measurements. Same `(n, seed, start_epoch)` → same records.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
from collections.abc import Iterator
from typing import Any

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.fake_reddit.ids import to_base36
from sentiment_pipeline.fake_reddit.text import sentence

__all__ = [
    "COMMENT_CHARS_MAX",
    "COMMENT_CHARS_MEDIAN",
    "COMMENT_CHARS_SIGMA",
    "SUBREDDITS",
    "comment_chars",
    "fresh_database",
    "make_records",
    "mood_text",
    "scratch_url",
]

# Reddit comment lengths, in characters: log-normal, median 100, 90th percentile 600
# (sigma = ln 6 / 1.2816), so a mean near 265 and 0.3 % over 5,000; cut at Reddit's
# own limit of 10,000 characters.
COMMENT_CHARS_MEDIAN = 100
COMMENT_CHARS_SIGMA = math.log(6) / 1.2816
COMMENT_CHARS_MAX = 10_000

SUBREDDITS = ("wallstreetbets", "stocks", "investing", "cryptocurrency", "economics")
_WORDS = (  # noqa: SIM905 (a word list reads better as text)
    "market stock price bull bear short squeeze earnings call put option hold buy sell "
    "moon rocket fed rate inflation crash rally dip dividend yield bond etf index fund "
    "tesla apple nvidia bitcoin ether volume chart trend support resistance breakout "
    "honestly think really going today tomorrow week news report guidance revenue"
).split()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def comment_chars(rng: random.Random, limit: int = COMMENT_CHARS_MAX) -> int:
    """A text length in characters drawn like Reddit comments' (see COMMENT_CHARS_*),
    at most `limit`."""
    drawn = rng.lognormvariate(math.log(COMMENT_CHARS_MEDIAN), COMMENT_CHARS_SIGMA)
    return max(1, min(limit, round(drawn)))


def mood_text(rng: random.Random, chars: int | None = None, words: int | None = None) -> str:
    """Sentences of the fake Reddit's text generator (`fake_reddit.text.sentence`: a mood
    each, lexicon words such as `great`/`awful` in neutral filler) cut at a word boundary
    to at most `chars` characters (at least one word), or to exactly `words` words."""
    parts: list[str] = []
    size = count = 0
    while (chars is not None and size < chars) or (words is not None and count < words):
        text = sentence(rng)
        parts.append(text)
        size += len(text) + 1
        count += text.count(" ") + 1
    if words is not None:
        return " ".join(" ".join(parts).split(" ")[:words])
    text = " ".join(parts)
    if chars is not None and len(text) > chars:
        cut = text.rfind(" ", 0, chars + 1)
        text = text[:cut] if cut > 0 else text.split(" ", 1)[0]
    return text


def make_records(
    n: int, seed: int = 1, start_epoch: float = 1_700_000_000.0, max_step: float = 3.0
) -> Iterator[dict[str, Any]]:
    """Yield `n` records in DTO shape: ~1 in 4 a post (`t3_`), the rest comments (`t1_`),
    1-2 KB JSON payloads, occurred_at rising by 0-`max_step` s (by default a few days per
    200k rows; `max_step = 2 * span / n` spreads the rows over about `span` seconds)."""
    rng = random.Random(seed)
    moment = start_epoch
    for i in range(n):
        moment += rng.random() * max_step
        sub = rng.choice(SUBREDDITS)
        author = f"user_{rng.randrange(50_000)}"
        post = rng.random() < 0.25
        fullname = ("t3_" if post else "t1_") + to_base36(36**5 + seed * 10_000_000 + i)
        payload: dict[str, Any] = {
            "subreddit": sub,
            "author": author,
            "score": rng.randrange(-50, 5000),
            "ups": rng.randrange(0, 5000),
            "num_comments": rng.randrange(0, 900),
            "created_utc": moment,
            "permalink": f"/r/{sub}/comments/{fullname[3:]}/",
            "edited": False,
            "stickied": rng.random() < 0.01,
            "awards": [{"name": "Silver", "count": 1}] if rng.random() < 0.1 else [],
        }
        if post:
            payload["title"] = _text(rng, rng.randrange(6, 16)).capitalize()
            payload["selftext"] = _text(rng, rng.randrange(120, 260))
            payload["url"] = f"https://www.reddit.com{payload['permalink']}"
        else:
            payload["body"] = _text(rng, rng.randrange(130, 270))
            payload["parent_id"] = "t3_" + to_base36(36**5 + rng.randrange(i + 1))
        yield {
            "id": fullname,
            "occurred_at": moment,
            "source": "reddit",
            "source_id": sub,
            "event_type": "post" if post else "comment",
            "payload": payload,
        }


def scratch_url(admin_url: str, name: str) -> DatabaseURL:
    """The URL of database `name` on the PostgreSQL server of `admin_url`."""
    return dataclasses.replace(parse_database_url(admin_url), database=name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name` on the server of `admin_url`, its sessions ended (if any)."""
    from contextlib import closing

    import psycopg

    with closing(psycopg.connect(parse_database_url(admin_url).libpq, autocommit=True)) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database(admin_url: str, name: str) -> DatabaseURL:
    """Database `name` on the server of `admin_url`, dropped if it was there, created and
    migrated (what `sentpipe db init` does); its URL."""
    from contextlib import closing

    import psycopg

    drop_database(admin_url, name)
    with closing(psycopg.connect(parse_database_url(admin_url).libpq, autocommit=True)) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = scratch_url(admin_url, name)
    init_db(url)
    return url


def child_env() -> dict[str, str]:
    """This process's environment for a timed child, without PYTHONDONTWRITEBYTECODE:
    a pip-installed sentpipe has its bytecode, and this machine sets the variable, which
    makes a child recompile every module edited since the last install on each start."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def vm_hwm_kb(pid: int) -> int:
    """The process's peak resident set (VmHWM, kB), 0 once it has gone. Unlike the
    child's ru_maxrss it starts afresh at exec, so it never counts the parent's memory
    that a vfork child shares until then."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measured(
    argv: list[str], env: dict[str, str] | None = None, stdout: Any = None
) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB, `vm_hwm_kb` polled every 2 ms) of one process run
    to its end; SystemExit when it fails."""
    import subprocess
    import time

    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=stdout)
    peak = 0
    while process.poll() is None:
        peak = max(peak, vm_hwm_kb(process.pid))
        time.sleep(0.002)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} exited {process.returncode}")
    return seconds, peak / 1024
