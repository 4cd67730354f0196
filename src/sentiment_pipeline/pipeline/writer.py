"""BatchWriter: writes one batch to the sinks, retrying transient failures, spooling the
batch when the database stays down. Runs in the pipeline's worker thread.

The first database sink leads: the other sinks receive exactly the events it newly stored,
so they stay a faithful log of the database (`sinks.base.leaders_and_followers` decides who
leads and who follows). Without a database sink, the first sink's own de-duplication
decides what is new.

`on_durable(count)` tells a resumable source how many of the run's events, in input
order, are safe: stored by every sink, or spooled (the next run replays the spool). It
stops advancing at the first batch a sink failed to take, so a checkpoint built on it
never skips input that some sink is missing.

With `overlap=True` (the pipeline's runs) the followers write a batch in a thread of
their own while the leader takes the next one, so the database is not left idle while
the CSV sink formats and fsyncs (`write` returns once the leader stored the batch). A
batch is counted, reported to `on_batch` and made durable only when its followers are
done too: at the next `write`, or at `flush()` / `close()`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from sentiment_pipeline.dto import RawEventDTO, Validated, validate_record
from sentiment_pipeline.errors import SentpipeError, TransientError
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.sinks.base import Sink, WriteResult, leaders_and_followers

__all__ = ["BatchWriter"]

LOGGER = logging.getLogger(__name__)
_MAX_BACKOFF = 10.0


class BatchWriter:
    def __init__(
        self,
        sinks: Sequence[Sink],
        spool: Spool | None,
        retry_seconds: float,
        result: RunResult,
        overlap: bool = False,
    ) -> None:
        self.leaders, self.followers = leaders_and_followers(sinks)
        self.spool = spool
        self.retry_seconds = retry_seconds
        self.result = result
        self.database_down = False
        self.on_batch: Callable[[RunResult], None] | None = None
        self.on_durable: Callable[[int], None] | None = None
        self.durable = 0  # events of this run, in input order, stored or spooled
        self._durable_stuck = False  # a sink missed a batch: durable stops advancing
        self._following: ThreadPoolExecutor | None = None
        if overlap and self.leaders and self.followers:
            self._following = ThreadPoolExecutor(1, thread_name_prefix="sentpipe-follower")
        # The batch whose followers are still writing, and what finishes its accounting.
        self._behind: tuple[Future[list[str]], Callable[[list[str]], None]] | None = None

    # Writing -----------------------------------------------------------------------

    def write(self, batch: Sequence[RawEventDTO], *, allow_spool: bool = True) -> bool:
        """Write a batch; False if it had to be spooled (or, without spool, failed).

        `allow_spool=False` is the spool's own replay: those events are not the run's
        input, so `durable` does not count them."""
        self.result.batches += 1
        if not self.leaders and not self.followers:  # dry run
            return True
        if self.leaders:
            outcome = self._write_leader(batch)
            self.flush()  # the batch before: its followers end, its accounting is done
            errors = len(self.result.errors)
            if outcome is None:
                if allow_spool:
                    self._advance(batch, safe=self._spool(batch))
                return False
            for extra in self.leaders[1:]:
                self._guarded(extra, batch)
            followed = outcome.new
            if self._following is not None and followed:
                clean = len(self.result.errors) == errors  # the extra leaders took it
                done = outcome
                self._behind = (
                    self._following.submit(self._follow, followed),
                    lambda failures: self._finish(
                        batch, done, failures, allow_spool, safe=clean and not failures
                    ),
                )
                return True
            followers = self.followers
        else:
            errors = len(self.result.errors)
            outcome = self._guarded(self.followers[0], batch)
            if outcome is None:
                self._advance(batch, safe=False)
                return False
            followers, followed = self.followers[1:], batch
        if followed:
            for follower in followers:
                self._guarded(follower, followed)
        self._finish(batch, outcome, [], allow_spool, safe=len(self.result.errors) == errors)
        return True

    def flush(self) -> None:
        """Wait for the followers of the last batch and finish its accounting (overlap
        mode; nothing to do otherwise). An unforeseen error of a follower is raised here."""
        if self._behind is None:
            return
        future, finish = self._behind
        self._behind = None
        finish(future.result())

    def _follow(self, events: Sequence[RawEventDTO]) -> list[str]:
        """The followers' writes of one batch (on the follower thread): their failures."""
        failures: list[str] = []
        for follower in self.followers:
            self._guarded(follower, events, failures)
        return failures

    def _finish(
        self,
        batch: Sequence[RawEventDTO],
        outcome: WriteResult,
        failures: list[str],
        allow_spool: bool,
        *,
        safe: bool,
    ) -> None:
        """Count a written batch (`failures`: the follower thread's, added to the run's
        errors), make it durable when `safe` (every sink took it), report progress."""
        self.result.errors.extend(failures)
        self._count(batch, outcome)
        if allow_spool:
            self._advance(batch, safe=safe)
        if self.on_batch is not None:
            self.on_batch(self.result)

    def _advance(self, batch: Sequence[RawEventDTO], *, safe: bool) -> None:
        """Count `batch` as durable if every sink took it (or the spool holds it)."""
        if not safe:
            self._durable_stuck = True
        if self._durable_stuck:
            return
        self.durable += len(batch)
        if self.on_durable is not None:
            self.on_durable(self.durable)

    def _write_leader(self, batch: Sequence[RawEventDTO]) -> WriteResult | None:
        leader = self.leaders[0]
        budget = 0.0 if self.database_down else self.retry_seconds
        deadline = time.monotonic() + budget
        delay = 0.5
        while True:
            try:
                outcome = leader.write(batch)
                if self.database_down:
                    LOGGER.info("the database is back")
                self.database_down = False
                return outcome
            except TransientError as error:
                if time.monotonic() + delay > deadline:
                    if not self.database_down:
                        LOGGER.error("giving up on the database for now: %s", error)
                        self.result.errors.append(f"database unavailable: {error}")
                    self.database_down = True
                    return None
                LOGGER.warning("database write failed (%s); retrying in %.1f s", error, delay)
                time.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)

    def _guarded(
        self, sink: Sink, batch: Sequence[RawEventDTO], failures: list[str] | None = None
    ) -> WriteResult | None:
        """Write to a non-leading sink; its failure is reported (in the run's errors, or
        in `failures` on the follower thread), not fatal."""
        try:
            return sink.write(batch)
        except (TransientError, OSError) as error:
            message = f"{sink.name} sink failed: {error}"
            LOGGER.error(message)
            (self.result.errors if failures is None else failures).append(message)
            return None

    def _spool(self, batch: Sequence[RawEventDTO]) -> bool:
        """Keep `batch` in the spool; False when there is none (the batch is lost)."""
        if self.spool is None:
            self.result.errors.append(f"{len(batch)} records lost: no spool configured")
            return False
        path = self.spool.write(batch)
        self.result.spooled += len(batch)
        LOGGER.warning("spooled %d records to %s", len(batch), path)
        return True

    def _count(self, batch: Sequence[RawEventDTO], outcome: WriteResult) -> None:
        self.result.inserted += outcome.inserted
        self.result.duplicates += outcome.duplicates
        new_by_source = Counter(event.source_id for event in outcome.new)
        all_by_source = Counter(event.source_id for event in batch)
        for source_id, total in all_by_source.items():
            counts = self.result.counts_for(source_id)
            counts.inserted += new_by_source[source_id]
            counts.duplicates += total - new_by_source[source_id]

    # Spool replay --------------------------------------------------------------------

    def replay_spool(self) -> int:
        """Write spooled batches first; remove each file only after it is committed."""
        if self.spool is None or not self.leaders:
            return 0
        replayed = 0
        for path in self.spool.files():
            events: list[RawEventDTO] = []
            for record in self.spool.read(path):
                checked = validate_record(record, max_payload_bytes=1 << 62)
                if isinstance(checked, Validated):
                    events.append(checked.event)
            if events and not self.write(events, allow_spool=False):
                LOGGER.warning("the database is still unavailable; %s stays spooled", path)
                break
            self.flush()  # every sink has the rows before their spool file goes
            self.spool.remove(path)
            replayed += len(events)
        self.result.replayed += replayed
        return replayed

    def close(self) -> None:
        """Finish the last batch (`flush`), then close every sink."""
        try:
            self.flush()
        finally:
            if self._following is not None:
                self._following.shutdown(wait=True)
            self._close_sinks()

    def _close_sinks(self) -> None:
        for sink in [*self.leaders, *self.followers]:
            try:
                sink.close()
            except (TransientError, SentpipeError, OSError) as error:  # closing a dead link
                LOGGER.debug("closing %s: %s", sink.name, error)
