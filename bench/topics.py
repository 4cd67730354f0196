"""Topic benchmark: re-matching stored events (`sentpipe topics match`), and collecting a
topic from the fake Reddit's live activity.

Run: .venv/bin/python bench/topics.py [--events 1000000] [--url URL] [--parts ab]
     [--hours 24] [--subreddits 20]

  (a) a simulated day (`--hours`) of the fake Reddit's live mode on a clock of its own
      (bench/requests.py's `play_day`): `--subreddits` followed subreddits with
      heavy-tailed activity (10 to 20,000 comments a day, posts a tenth) and 5 that
      nobody follows, each planting phrases in new posts and comments (`PLANTED`: two
      the topic wants, two near misses it must reject: the plural, which Reddit's
      search stems, and the phrase its query excludes). Followed as `scrape reddit
      --topics-only --every 5m` would (the `FollowState` planner; the searches every
      poll) with two topics: `tesla`, scoped to the followed subreddits, and `modely`,
      unscoped (its posts from `/search`, its comments from the followed subreddits).
      The truth is the documented matcher (`Matcher.matches`) applied to every item the
      fake made (a post's title and self-text, a comment's body), plus the comments of
      matching posts (via post). Printed: recall of posts, of comments by their text
      and by their post (goal >= 99%), the links the matcher does not confirm (goal 0),
      and the API requests per matched item against a baseline in the same run at the
      same moments, "fetch every tree of every search result": the same search walk
      every 5 minutes and each result's comment tree every time the walk returns it
      (counted against the fake over HTTP, `TreeStrategy`), which misses the matching
      comments of posts that do not match and the comments that come after its fetch.

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
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import fresh_database, scratch_url

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.dto import RawEventDTO, Validated, validate_record
from sentiment_pipeline.fake_reddit import SubredditSpec
from sentiment_pipeline.sinks.postgres import copy_rows, register_jsonb_text
from sentiment_pipeline.sources.reddit.topics import TopicSearch, topic_searches
from sentiment_pipeline.sources.topic import Topic, TopicSettings, topics_from

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


# -- (a) collecting topics from the fake Reddit's live activity ------------------------

# the planted phrases and their share of new posts and of new comments (each phrase
# draws on its own, for posts and comments alike): two the `tesla` topic wants, two
# near misses it must reject (the plural, which the fake's search stems to `tesla`, and
# the phrase its query excludes), and the unscoped topic's phrase
PLANTED = (
    ("tesla", 0.012),
    ("model 3", 0.004),
    ("teslas", 0.004),
    ("Nikola Tesla", 0.004),
    ("model y", 0.004),
)
COLLECT_QUERY = '(tesla OR "model 3") NOT "nikola tesla"'  # scoped to the day's subreddits
UNSCOPED_QUERY = '"model y"'  # no scope: all of Reddit's search, the followed comments
OVERLAP = 300.0  # seconds below a walk's mark that the next walk reads again (as sentpipe)


def _requests_module() -> Any:
    """bench/requests.py under another name (`requests` is also a PyPI package)."""
    import importlib.util

    path = Path(__file__).resolve().with_name("requests.py")
    spec = importlib.util.spec_from_file_location("bench_requests", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_requests"] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Truth:
    """What the documented matcher says of the fake's items for one topic: posts and
    comments whose own text matches, and the other comments of those posts."""

    posts: set[str] = field(default_factory=set)
    comments: set[str] = field(default_factory=set)
    via_post: set[str] = field(default_factory=set)

    def links(self) -> set[tuple[str, str]]:
        """(fullname, via) of every link the topic should have."""
        text = {(name, "text") for name in self.posts | self.comments}
        return text | {(name, "post") for name in self.via_post}


def _usable(value: object) -> str:
    """A text field as the tagger reads it: '' for none and for placeholders."""
    return value if isinstance(value, str) and value not in ("[deleted]", "[removed]") else ""


def ground_truth(store: Any, topic: Topic, until: float, watched: set[str] | None) -> Truth:
    """`topic`'s matches among the posts and comments the fake holds up to `until`
    (Unix seconds), by `Matcher.matches` on a post's title and self-text and a
    comment's body, within the topic's scope; comments only in the `watched`
    subreddits (None: everywhere), where the comment listings bring them."""
    truth = Truth()
    with store.lock:
        store.catch_up()
        for state in store.subreddits.values():
            name = state.spec.name.lower()
            if topic.holds("reddit", name):
                comments = watched is None or name in watched
                _truth_of(state, topic.matcher, until, truth, comments=comments)
    return truth


def _truth_of(state: Any, matcher: Any, until: float, truth: Truth, *, comments: bool) -> None:
    """Add one subreddit's matches to `truth` (see `ground_truth`)."""
    for post in list(state.posts):
        if post.created_utc > until:
            continue
        title, text = _usable(post.data.get("title")), _usable(post.data.get("selftext"))
        hit = matcher.matches(text, title)
        if hit:
            truth.posts.add(post.name)
        if not comments:
            continue
        for node in state.tree(post, until).by_id.values():
            if node.created_utc > until:
                continue
            if matcher.matches(_usable(node.data.get("body"))):
                truth.comments.add(node.name)
            elif hit:
                truth.via_post.add(node.name)


class TreeStrategy:
    """The baseline: each poll, the same search walk as sentpipe's (sort=new, 100 a
    page, down to its own mark less `OVERLAP`; the first walk as deep as the cap), and
    the comment tree of every result of the walk, whether the matcher keeps it or not,
    each time the result comes back. Requests are made against the fake over HTTP and
    counted here: a search page, a tree, and the `replace_more` a full tree needs (one
    `/api/morechildren` per 100 hidden ids, one fetch per "continue this thread");
    those follow-ups are counted, not made, and the comments credited are the post's
    whole tree at that moment (from the fake's store)."""

    def __init__(self, fake: Any, searches: list[TopicSearch]) -> None:
        self.fake = fake
        self.searches = searches
        self.marks: dict[str, float] = {}
        self.results: dict[str, set[str]] = {s.topic.name: set() for s in searches}
        self.comments: dict[str, set[str]] = {s.topic.name: set() for s in searches}
        self.polls: list[int] = []
        self.count = 0
        config = fake.config
        form = urllib.parse.urlencode({"grant_type": "client_credentials"}).encode()
        request = urllib.request.Request(f"{fake.url}/api/v1/access_token", data=form)
        secret = base64.b64encode(f"{config.client_id}:{config.client_secret}".encode())
        request.add_header("Authorization", f"Basic {secret.decode()}")
        with urllib.request.urlopen(request) as answer:
            self.token = json.load(answer)["access_token"]

    def get(self, path: str, params: dict[str, str | int]) -> Any:
        """One counted API request; its JSON."""
        self.count += 1
        query = urllib.parse.urlencode({**params, "raw_json": 1})
        request = urllib.request.Request(f"{self.fake.url}/{path}?{query}")
        request.add_header("Authorization", f"bearer {self.token}")
        with urllib.request.urlopen(request) as answer:
            return json.load(answer)

    def poll(self) -> None:
        """One poll of every topic; its requests appended to `polls`."""
        before = self.count
        for search in self.searches:
            for result in self.walk(search):
                self.results[search.topic.name].add(result)
                self.comments[search.topic.name] |= self.tree(result)
        self.polls.append(self.count - before)

    def walk(self, search: TopicSearch) -> list[str]:
        """The fullnames of one search walk, newest first."""
        name = search.topic.name
        mark = self.marks.get(name)
        floor = None if mark is None else mark - OVERLAP
        found: list[str] = []
        after: str | None = None
        while True:
            page = self.get(search.path, {**search.params, "limit": 100, **_after(after)})
            children = page["data"]["children"]
            for child in children:
                created = float(child["data"]["created_utc"])
                if floor is not None and created < floor:
                    return found
                found.append(child["data"]["name"])
                self.marks[name] = max(self.marks.get(name, created), created)
            after = page["data"].get("after")
            if not children or after is None:
                return found

    def tree(self, fullname: str) -> set[str]:
        """Fetch the post's tree (counting the follow-ups); its comments' fullnames."""
        answer = self.get(f"comments/{fullname.removeprefix('t3_')}", {})
        self.count += _follow_ups(answer[1]["data"]["children"])
        store = self.fake.fake.world.store
        with store.lock:
            owner = store.find_post(fullname.removeprefix("t3_"))
            if owner is None:
                return set()
            state, post = owner
            return {node.name for node in state.tree(post, self.fake.now()).by_id.values()}


def _after(after: str | None) -> dict[str, str]:
    return {} if after is None else {"after": after}


def _follow_ups(children: list[Any]) -> int:
    """The requests `replace_more(limit=None)` would make for a tree's `more` stubs."""
    count = 0
    for child in children:
        data = child["data"]
        if child["kind"] == "more":
            hidden = len(data.get("children") or [])
            count += math.ceil(hidden / 100) if hidden else 1
        elif isinstance(data.get("replies"), dict):
            count += _follow_ups(data["replies"]["data"]["children"])
    return count


@dataclass
class Collected:
    """What one day's run gathered: the fake, the baseline, sentpipe's search counters."""

    fake: Any = None
    trees: TreeStrategy | None = None
    searches: list[TopicSearch] = field(default_factory=list)
    found: int = 0
    capped: int = 0
    last_tree_poll: float = -math.inf

    def started(self, fake: Any) -> None:
        self.fake = fake
        self.trees = TreeStrategy(fake, self.searches)

    def seen(self, result: Any) -> None:
        """After each sentpipe poll, at the same moment: the baseline's poll when
        `--every` has passed since its last."""
        for stats in result.report.topics.values():
            self.found += stats.found
            self.capped += int(stats.capped)
        assert self.trees is not None
        now = self.fake.now()
        if now - self.last_tree_poll >= 299.0:
            self.last_tree_poll = now
            self.trees.poll()


def _links(path: Path) -> dict[str, set[tuple[str, str]]]:
    """{topic: {(id, via)}} of `event_topics` in the run's SQLite database."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT id, topic, via FROM event_topics").fetchall()
    links: dict[str, set[tuple[str, str]]] = {}
    for ident, topic, via in rows:
        links.setdefault(str(topic), set()).add((str(ident), str(via)))
    return links


def _share(part: int, whole: int) -> str:
    return f"{part / whole:7.2%} ({part:,} of {whole:,})" if whole else "    n/a (none)"


def _recall(label: str, wanted: set[str], ours: set[str], theirs: set[str], goal: str) -> None:
    """One recall line: sentpipe's share of `wanted`, the baseline's, the goal."""
    mine, base = _share(len(wanted & ours), len(wanted)), _share(len(wanted & theirs), len(wanted))
    print(f"      {label:24s}sentpipe {mine}   trees {base}{goal}")


def _print_topic(
    name: str, truths: tuple[Truth, Truth], linked: set[tuple[str, str]], trees: Any
) -> int:
    """The topic's recall lines for sentpipe and the baseline against `truths[0]` (the
    comments of the followed subreddits), and its false positives: links the matcher
    does not confirm on any item (`truths[1]`, every subreddit)."""
    truth, everywhere = truths
    text = {ident for ident, via in linked if via == "text"}
    post = {ident for ident, via in linked if via == "post"}
    wrong = len(linked - everywhere.links())
    results, fetched = trees.results[name], trees.comments[name]
    print(
        f"    topic {name}: {len(truth.posts):,} posts and {len(truth.comments):,} comments "
        f"match by their text, {len(truth.via_post):,} other comments by their post"
    )
    _recall("recall posts", truth.posts, text, results, "   (goal >= 99%)")
    _recall("recall comments (text)", truth.comments, text, fetched, "   (goal >= 99%)")
    _recall("recall comments (post)", truth.via_post, post, fetched, "")
    print(f"      {'false positives':24s}sentpipe {wrong:,} of {len(linked):,} links (goal 0)")
    return wrong


def _matched(truth: Truth, linked: set[tuple[str, str]]) -> int:
    """The links the matcher confirms: sentpipe's matched items."""
    return len(linked & truth.links())


def _tree_matched(truth: Truth, results: set[str], fetched: set[str]) -> int:
    """The matching posts among the results and comments among the trees fetched."""
    return len(truth.posts & results) + len((truth.comments | truth.via_post) & fetched)


def elsewhere(count: int, seed: int) -> tuple[SubredditSpec, ...]:
    """Subreddits the fake serves and nobody follows (500 comments and 50 posts a day,
    the same mentions): the unscoped topic's posts there come only from the search."""
    return tuple(
        SubredditSpec(
            f"elsewhere{i}",
            posts=60,
            seed=seed + 100 + i,
            comments_per_post=8,
            post_interval_seconds=5 * 86400 / 60,
            newest_age_seconds=1800,
            posts_per_day=50.0,
            comments_per_day=500.0,
            mentions=PLANTED,
        )
        for i in range(count)
    )


def collect_part(
    work: Path, hours: float = 24.0, subreddits: int = 20, seed: int = 1, every: float = 300.0
) -> None:
    """(a): a simulated day of the fake's live activity with planted mentions, followed
    as `scrape reddit --topics-only --every 5m` would (bench/requests.py's `play_day`
    with the `FollowState` planner), a scoped and an unscoped topic, against the
    documented matcher's verdict on every item the fake made, and the tree baseline."""
    bench = _requests_module()
    specs = tuple(replace(s, mentions=PLANTED) for s in bench.day_specs(subreddits, seed))
    entries = {
        "tesla": TopicSettings(query=COLLECT_QUERY, subreddits=[s.name for s in specs]),
        "modely": TopicSettings(query=UNSCOPED_QUERY),
    }
    topics = sorted(topics_from(entries), key=lambda t: list(entries).index(t.name))
    run = Collected(searches=topic_searches(topics))
    start = time.time() - hours * 3600 - 600  # the day ends before our clock's now
    began = time.perf_counter()
    day, _ = bench.play_day(
        "topics",
        specs,
        start,
        hours,
        every,
        work,
        bench.listing_poller(every, run.seen),
        started=run.started,
        unfollowed=elsewhere(5, seed),
        topics=entries,
    )
    seconds = time.perf_counter() - began
    store = run.fake.fake.world.store
    watched = {s.name.lower() for s in specs}
    truths = {
        t.name: (
            ground_truth(store, t, start + hours * 3600, watched),
            ground_truth(store, t, start + hours * 3600, None),
        )
        for t in topics
    }
    busy = bench.heavy_tailed(subreddits)
    print(
        f"(a) topics from the fake Reddit's live mode: {hours:g} h of {subreddits} followed "
        f"subreddits ({busy[0]:,.0f} to {busy[-1]:,.0f} comments a day) and 5 unfollowed "
        f"(500), polled as --every {every / 60:g}m ({len(day.polls)} polls, {seconds:.0f} s)"
    )
    planted = ", ".join(f"{phrase!r} {share:.1%}" for phrase, share in PLANTED)
    print(f"    planted in new posts and comments: {planted}")
    print(
        f"    tesla = {COLLECT_QUERY} (scope: the {subreddits}); modely = {UNSCOPED_QUERY} "
        "(no scope: its comments from the followed subreddits)"
    )
    _print_results(run, day, truths, _links(work / "topics" / "bench.db"))


def _print_results(
    run: Collected, day: Any, truths: dict[str, tuple[Truth, Truth]], links: dict[str, Any]
) -> None:
    """Recall and false positives per topic, then requests per matched item."""
    trees = run.trees
    assert trees is not None
    wrong = sum(
        _print_topic(name, pair, links.get(name, set()), trees) for name, pair in truths.items()
    )
    ours = sum(_matched(pair[1], links.get(name, set())) for name, pair in truths.items())
    theirs = sum(
        _tree_matched(pair[1], trees.results[name], trees.comments[name])
        for name, pair in truths.items()
    )
    tree_requests = sum(trees.polls[1:])
    mine, base = day.requests / max(1, ours), tree_requests / max(1, theirs)
    print(
        f"    requests besides tokens, after the first run (sentpipe's first run "
        f"{day.warmup:,}: first sight of every followed post; the trees' {trees.polls[0]:,}):"
    )
    print(
        f"      sentpipe: scope listings, searches, first-sight trees {day.requests:>7,} "
        f"for {ours:,} matched items: {mine:.3f} per matched item"
    )
    print(
        f"      trees: searches, every result's tree each time seen   {tree_requests:>7,} "
        f"for {theirs:,} matched items: {base:.3f} per matched item"
    )
    print(
        f"      ratio {mine / base:.3f} x the trees' requests per matched item; "
        f"sentpipe's searches read {run.found:,} results, {run.capped} capped walks"
    )
    print(f"    false positives in all: {wrong} (goal 0)")


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
    parser.add_argument("--hours", type=float, default=24.0, help="(a): simulated hours")
    parser.add_argument("--subreddits", type=int, default=20, help="(a): how many")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentpipe-bench-topics-") as folder:
        work = Path(folder)
        if "a" in args.parts:
            collect_part(work, hours=args.hours, subreddits=args.subreddits)
        if "b" in args.parts:
            match_part(args.url, args.events, work)


if __name__ == "__main__":
    main()
