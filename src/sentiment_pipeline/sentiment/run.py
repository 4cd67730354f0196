"""`score_events`: the claim → clean → score → upsert + mark loop, in one or N processes.

Each batch is claimed and finished as store.py says (one transaction on PostgreSQL; a
read, then one write transaction on SQLite). `--workers N` starts N processes (spawn)
that each run the loop against the same PostgreSQL database; `SKIP LOCKED` keeps their
batches disjoint. SQLite has one writer: the run holds `data_dir/sentiment.lock` (its own
lock, so scraping and scoring run side by side) and uses one process.

Pipelining (`_loop`, PostgreSQL): a background I/O thread runs every store call in
order, while the main thread cleans, detects and scores. When batch k is handed to the
scorer, the claim of batch k + 1 is queued on the other lane (connection), and batch k's
finish after it is scored, so the thread writes batch k - 1's scores and claims batch
k + 1 while batch k is scored (psycopg waits for the server without the GIL). At most two
batches are in flight, each in its own transaction; a stop (`stop()`, the deadline,
`max_events`) ends the run after the batch being scored is finished, and a claimed batch
not yet scored is rolled back (its events wait for the next run). An error in the
thread is raised in the main thread as the same exception (DatabaseUnreachable: exit 3);
every batch committed before it stays. SQLite stays in one thread: sqlite3 gives up the
GIL once per row, which a busy scoring thread turns into 5 ms per row (the switch
interval), and its claim and finish cost a few percent of VADER's time.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError, DatabaseUnreachable, LockHeld, SentpipeError
from sentiment_pipeline.sentiment.clean import event_text, text_plan
from sentiment_pipeline.sentiment.language import UNDETERMINED, detect_languages
from sentiment_pipeline.sentiment.scorers import (
    Scorer,
    get_scorer,
    model_id_for,
    worker_threads,
)
from sentiment_pipeline.sentiment.store import (
    Claimed,
    EventScope,
    Key,
    ScoreRow,
    SentimentStore,
    open_store,
)
from sentiment_pipeline.sources import BUILTIN_SOURCES, SourceSpec, known_specs, register

__all__ = ["JSON_VERSION", "ScoreOptions", "ScoreResult", "score_batch", "score_events"]

JSON_VERSION = 1
Progress = Callable[[int, int], None]  # (scored, skipped) in the batch just committed


@dataclass(frozen=True)
class ScoreOptions:
    """What `sentpipe sentiment score` does; durations in seconds."""

    model: str = "vader"
    batch_size: int = 500
    max_events: int | None = None
    max_duration: float | None = None
    source_ids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    rescore: bool = False
    workers: int = 1
    dry_run: bool = False
    languages: tuple[str, ...] = ()  # scored languages; () the model's own, ("any",) all
    threads: int | None = None  # a scorer's own thread pool per process (scorer_threads)

    def allowed(self, scorer: Scorer) -> frozenset[str] | None:
        """The language codes this run scores (None: any); `und` is scored always."""
        if not self.languages:
            return scorer.languages
        if ANY_LANGUAGE in self.languages:
            return None
        return frozenset(self.languages)


ANY_LANGUAGE = "any"


@dataclass
class ScoreResult:
    """Counts of one run. `waiting`: unprocessed events in scope left after the run."""

    model: str
    backend: str
    workers: int = 1
    tally: Tally = field(default_factory=lambda: Tally())
    seconds: float = 0.0
    waiting: int = 0
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def scored(self) -> int:
        return self.tally.scored

    @property
    def skipped(self) -> int:
        return self.tally.skipped

    @property
    def batches(self) -> int:
        return self.tally.batches

    @property
    def events_per_second(self) -> float:
        done = self.scored + self.skipped
        return done / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The documented `--json` shape (docs/sentiment.md)."""
        return {
            "version": JSON_VERSION,
            "model": self.model,
            "backend": self.backend,
            "workers": self.workers,
            "dry_run": self.dry_run,
            "scored": self.scored,
            "skipped": self.skipped,
            "skipped_by_reason": {"no_text": self.tally.no_text, "language": self.tally.language},
            "languages": dict(self.tally.languages.most_common()),
            "batches": self.batches,
            "waiting": self.waiting,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "notes": self.notes,
        }


@dataclass
class Tally:
    """What scoring did to claimed events: scored, skipped for want of text
    (`no_text`) or for a language the scorer does not score (`language`), and the
    scored texts per language code."""

    scored: int = 0
    no_text: int = 0
    language: int = 0
    batches: int = 0
    languages: Counter[str] = field(default_factory=Counter)

    @property
    def skipped(self) -> int:
        return self.no_text + self.language

    def add(self, other: Tally) -> None:
        self.scored += other.scored
        self.no_text += other.no_text
        self.language += other.language
        self.batches += other.batches
        self.languages.update(other.languages)


def score_batch(
    scorer: Scorer,
    claimed: Sequence[Claimed],
    languages: frozenset[str] | None,
) -> tuple[list[ScoreRow], Tally]:
    """Scores for the claimed events that have text (`sentiment.clean.event_text`) in
    one of `languages` (`ScoreOptions.allowed`: None for any; `und` always); the others
    are marked processed without one. Returns the rows and their tally."""
    tally = Tally(batches=1)
    events: list[Claimed] = []
    texts: list[str] = []
    for event in claimed:
        text = event_text(event.source, event.event_type, event.payload)
        if text is None:
            tally.no_text += 1
        else:
            events.append(event)
            texts.append(text)
    detected = detect_languages(texts)
    if languages is not None:
        keep = [i for i, code in enumerate(detected) if code in languages or code == UNDETERMINED]
        tally.language = len(texts) - len(keep)
        events = [events[i] for i in keep]
        texts = [texts[i] for i in keep]
        detected = [detected[i] for i in keep]
    scores = scorer.score_batch(texts) if texts else []
    model = scorer.model_id
    rows = [
        ScoreRow(
            event.id,
            event.occurred_at,
            model,
            event.source,
            event.source_id,
            event.event_type,
            s.compound,
            s.pos,
            s.neu,
            s.neg,
            s.label,
            len(text),
            code,
            None if s.probabilities is None else json.dumps(dict(s.probabilities)),
        )
        for event, text, code, s in zip(events, texts, detected, scores, strict=True)
    ]
    tally.scored = len(rows)
    tally.languages.update(detected)
    return rows, tally


def _writer_lock(
    url: DatabaseURL, lock_path: Path | None, wait: bool
) -> AbstractContextManager[Any]:
    """SQLite has one writer: the scorer's own lock (not the scrape's). PostgreSQL needs
    none: claims are disjoint through `FOR UPDATE SKIP LOCKED`."""
    if url.backend != "sqlite":
        return nullcontext()
    from sentiment_pipeline.lock import run_lock

    return run_lock(
        lock_path or url.sqlite_path.with_name("sentiment.lock"),
        wait=wait,
        command="sentpipe sentiment score",
    )


class _Budget:
    """Events left to claim under --max-events, shared by worker processes when given
    a multiprocessing Value (-1 = unlimited)."""

    def __init__(self, shared: Any) -> None:
        self._shared = shared

    def take(self, n: int) -> int:
        with self._shared.get_lock():
            left = self._shared.value
            if left < 0:
                return n
            got = min(n, left)
            self._shared.value = left - got
            return int(got)

    def give_back(self, n: int) -> None:
        if n > 0:
            with self._shared.get_lock():
                if self._shared.value >= 0:
                    self._shared.value += n


class _IO:
    """Runs store calls in order: on one background thread when `threaded`, else at once
    in the caller's thread. Either way a call's result or exception is its Future's."""

    def __init__(self, threaded: bool) -> None:
        self._pool = ThreadPoolExecutor(1, "sentpipe-score-io") if threaded else None

    def submit(self, call: Callable[..., Any], *args: Any) -> Future[Any]:
        if self._pool is not None:
            return self._pool.submit(call, *args)
        future: Future[Any] = Future()
        try:
            future.set_result(call(*args))
        except BaseException as error:  # handed to the caller by result()
            future.set_exception(error)
        return future

    def close(self, cancel: bool = False) -> None:
        """Waits for the call in progress; drops the queued ones when `cancel`."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)


@dataclass
class _Claim:
    """A claim under way on `lane`: `asked` events taken from the budget."""

    lane: int
    asked: int
    future: Future[list[Claimed]]
    prefetched: bool


@dataclass
class _Finish:
    """A batch's finish under way, with what scoring made of it."""

    future: Future[set[Key]]
    rows: list[ScoreRow]
    claimed: Sequence[Claimed]
    tally: Tally


class _Pipeline:
    """The state of one `_loop`: what is claimed and finished, on which lane."""

    def __init__(
        self,
        store: SentimentStore,
        options: ScoreOptions,
        scope: EventScope,
        budget: _Budget,
        ended: Callable[[], bool],
    ) -> None:
        self.store = store
        self.options = options
        self.scope = scope
        self.budget = budget
        self.ended = ended
        self.pipelined = store.lanes > 1
        self.io = _IO(self.pipelined)

    def claim(self, lane: int, prefetched: bool = False) -> _Claim | None:
        """Queue the claim of the next batch on `lane`; None when the run must end."""
        if self.ended():
            return None
        n = self.budget.take(self.options.batch_size)
        if n == 0:
            return None
        future = self.io.submit(self.store.claim, n, self.scope, lane)
        return _Claim(lane, n, future, prefetched)

    def receive(self, claim: _Claim) -> list[Claimed]:
        """The claimed events, or [] (lane rolled back, budget given back) when there are
        none or the run ended since a prefetched claim was queued."""
        claimed: list[Claimed] = claim.future.result()
        if not claimed or (claim.prefetched and self.ended()):
            self.io.submit(self.store.rollback, claim.lane).result()
            self.budget.give_back(claim.asked)
            return []
        self.budget.give_back(claim.asked - len(claimed))
        return claimed

    def abort(self) -> None:
        """After an error: let the call in progress end, then roll every lane back (best
        effort: a lost connection has nothing left to roll back)."""
        self.io.close(cancel=True)
        with suppress(Exception):  # the original error is what matters
            self.store.rollback()


def _settle(finish: _Finish, total: Tally, progress: Progress | None) -> None:
    """Wait for a batch's commit; count it (less the events the store left alone)."""
    stale = finish.future.result()
    tally = finish.tally
    if stale:
        tally = _without(finish, stale)
    total.add(tally)
    if progress is not None:
        progress(tally.scored, tally.skipped)


def _without(finish: _Finish, stale: set[Key]) -> Tally:
    """The batch's tally without the events the store did not write (changed since the
    claim): a scored one comes off `scored` and its language, a skipped one off its
    reason."""
    tally = finish.tally
    out = Tally(
        tally.scored, tally.no_text, tally.language, tally.batches, Counter(tally.languages)
    )
    scored = {(row.id, row.occurred_at): row for row in finish.rows}
    for event in finish.claimed:
        key = (event.id, event.occurred_at)
        if key not in stale:
            continue
        row = scored.get(key)
        if row is not None:
            out.scored -= 1
            out.languages[row.language] -= 1
        elif event_text(event.source, event.event_type, event.payload) is None:
            out.no_text -= 1
        else:
            out.language -= 1
    out.languages = +out.languages
    return out


def _loop(
    store: SentimentStore,
    scorer: Scorer,
    options: ScoreOptions,
    scope: EventScope,
    budget: _Budget,
    deadline: float | None,
    progress: Progress | None,
    stop: Callable[[], bool] | None = None,
) -> Tally:
    """Claim, score and finish batches until none is left or the run ends; pipelined on
    stores with two lanes (see the module docstring)."""

    def ended() -> bool:
        return (deadline is not None and time.time() >= deadline) or (stop is not None and stop())

    total = Tally()
    allowed = options.allowed(scorer)
    pipe = _Pipeline(store, options, scope, budget, ended)
    finishing: _Finish | None = None
    try:
        current = pipe.claim(0)
        while current is not None:
            claimed = pipe.receive(current)
            if not claimed:
                break
            lane = current.lane
            current = pipe.claim(1 - lane, prefetched=True) if pipe.pipelined else None
            rows, tally = score_batch(scorer, claimed, allowed)
            if finishing is not None:
                _settle(finishing, total, progress)
            finishing = _Finish(
                pipe.io.submit(store.finish, rows, claimed, lane), rows, claimed, tally
            )
            if not pipe.pipelined:
                _settle(finishing, total, progress)
                finishing = None
                current = pipe.claim(0)
        if finishing is not None:
            _settle(finishing, total, progress)
    except BaseException:
        pipe.abort()
        raise
    pipe.io.close()
    return total


def _worker_main(
    url: DatabaseURL,
    options: ScoreOptions,
    scope: EventScope,
    shared_budget: Any,
    deadline: float | None,
    queue: Any,
    specs: tuple[SourceSpec, ...] = (),
) -> None:
    """One worker process: the same loop, reporting progress and its end on `queue`.
    `specs`: the sources the parent registered at run time (`sources.register`)."""
    try:
        for spec in specs:
            register(spec)
        store = open_store(url)
        try:
            scorer = get_scorer(options.model)
            tally = _loop(
                store,
                scorer,
                options,
                scope,
                _Budget(shared_budget),
                deadline,
                lambda a, b: queue.put(("progress", a, b)),
            )
        finally:
            store.close()
        queue.put(("done", tally))
    except SentpipeError as error:
        queue.put(("error", type(error).__name__, error.reason, error.hint))
    except BaseException as error:  # reported to the parent, which raises it
        queue.put(("error", "SentpipeError", f"{type(error).__name__}: {error}", None))


_ERRORS: dict[str, type[SentpipeError]] = {
    "ConfigError": ConfigError,
    "DatabaseUnreachable": DatabaseUnreachable,
    "LockHeld": LockHeld,
}


def _run_time_specs() -> tuple[SourceSpec, ...]:
    """The specs registered in this process that a spawned worker would not find itself
    (not built in); their `text_of` must be a module-level function (pickled by name)."""
    return tuple(spec for name, spec in known_specs().items() if name not in BUILTIN_SOURCES)


def _run_workers(
    url: DatabaseURL,
    options: ScoreOptions,
    scope: EventScope,
    deadline: float | None,
    progress: Progress | None,
    stop: Callable[[], bool] | None = None,
) -> Tally:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    budget = context.Value("q", -1 if options.max_events is None else options.max_events)
    processes = [
        context.Process(
            target=_worker_main,
            args=(url, options, scope, budget, deadline, queue, _run_time_specs()),
            name=f"sentpipe-sentiment-{i + 1}",
            daemon=True,
        )
        for i in range(options.workers)
    ]
    with worker_threads(options.workers, options.threads):  # each worker's share of the CPUs
        for process in processes:
            process.start()
    total = Tally()
    finished = 0
    failure: tuple[str, str, str | None] | None = None
    try:
        while finished < len(processes):
            if stop is not None and stop():
                with budget.get_lock():
                    budget.value = 0  # the workers end after their current batch
            try:
                message = queue.get(timeout=0.5)
            except Exception:  # queue.Empty: check that nobody died silently
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead and queue.empty():
                    raise SentpipeError(
                        f"a scoring worker died (exit code {dead[0].exitcode})",
                        "its batch was rolled back; run `sentpipe sentiment score` again",
                    ) from None
                continue
            kind = message[0]
            if kind == "progress":
                if progress is not None:
                    progress(message[1], message[2])
            elif kind == "done":
                finished += 1
                total.add(message[1])
            else:
                finished += 1
                failure = failure or (message[1], message[2], message[3])
                with budget.get_lock():
                    budget.value = 0  # stop the others after their current batch
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    if failure is not None:
        raise _ERRORS.get(failure[0], SentpipeError)(failure[1], failure[2])
    return total


def score_events(
    url: DatabaseURL,
    options: ScoreOptions,
    lock_path: Path | None = None,
    wait: bool = False,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
    migrate: bool = False,
) -> ScoreResult:
    """Score every event in scope that waits (see ScoreOptions), in batches of
    `batch_size`, each one transaction. SQLite runs hold `lock_path` (LockHeld unless
    `wait`). First the database must be at head (`db.migrate.ensure_schema`); `migrate`
    (the embedded default, not with `dry_run`) migrates it there instead. `stop()` is
    asked before each batch: True ends the run (a service's SIGTERM). Raises
    ConfigError (unknown model, unmigrated database), DatabaseUnreachable, LockHeld; a
    failed run keeps every batch committed before the failure."""
    from sentiment_pipeline.db.migrate import ensure_schema

    if options.batch_size < 1 or options.workers < 1:
        raise ConfigError("--batch-size and --workers must be at least 1")
    model_id = model_id_for(options.model)
    started = time.monotonic()
    ensure_schema(url, migrate=migrate and not options.dry_run)
    store = open_store(url)
    result = ScoreResult(model_id, store.backend, workers=options.workers)
    try:
        run_start = store.server_now()
        plan = text_plan()
        scope = EventScope(
            options.source_ids,
            options.since,
            options.until,
            run_start if options.rescore else None,
            unscorable=plan.unscorable,
            text_keys=plan.keys,
        )
        if options.dry_run:
            result.dry_run = True
            result.waiting = store.count_waiting(scope)
            result.seconds = time.monotonic() - started
            return result
        deadline = None if options.max_duration is None else time.time() + options.max_duration
        if store.backend == "sqlite" and options.workers > 1:
            result.notes.append("SQLite has one writer: scoring with 1 process")
            result.workers = 1
        if result.workers > 1:
            result.tally = _run_workers(url, options, scope, deadline, progress, stop)
        else:
            with _writer_lock(url, lock_path, wait):
                result.tally = _loop(
                    store,
                    _make_scorer(options),
                    options,
                    scope,
                    _Budget(_LocalValue(options.max_events)),
                    deadline,
                    progress,
                    stop,
                )
        result.waiting = store.count_waiting(
            EventScope(options.source_ids, options.since, options.until, unscorable=plan.unscorable)
        )
    finally:
        store.close()
    result.seconds = time.monotonic() - started
    return result


def _make_scorer(options: ScoreOptions) -> Scorer:
    """This process's scorer, its thread pool sized by `options.threads` when given."""
    with worker_threads(1, options.threads):
        return get_scorer(options.model)


class _LocalValue:
    """The single-process stand-in for multiprocessing.Value (same `value`/`get_lock`)."""

    def __init__(self, limit: int | None) -> None:
        self.value = -1 if limit is None else limit

    def get_lock(self) -> Any:
        from contextlib import nullcontext

        return nullcontext()


def format_seconds(seconds: float) -> str:
    """`12.3 s` / `4 min 2 s` for summaries."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{math.floor(seconds / 60)} min {round(seconds % 60)} s"
