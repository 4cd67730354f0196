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
from pathlib import Path

from sentiment_pipeline.dto import RawEventDTO, Validated, validate_record
from sentiment_pipeline.errors import SentpipeError, TransientError
from sentiment_pipeline.pipeline import journal as journals
from sentiment_pipeline.pipeline.journal import FollowerJournal, JournalFile
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.sinks.base import (
    Repairable,
    Sink,
    StoredRows,
    TakesLinks,
    WriteResult,
    leaders_and_followers,
)
from sentiment_pipeline.topics import Link

__all__ = ["BatchWriter"]

LOGGER = logging.getLogger(__name__)
_MAX_BACKOFF = 10.0
_REPAIR_CHUNK = 20_000  # owed keys looked up in the database at a time


def _journal_for(
    leaders: Sequence[Sink], followers: Sequence[Sink], directory: Path | None
) -> FollowerJournal | None:
    """A journal when followers follow a leader that gives its rows back by key (a real
    database) and every follower can take rows it may hold already; else None."""
    if directory is None or not leaders or not followers:
        return None
    leader = leaders[0]
    if not isinstance(leader, StoredRows):
        return None
    if not all(isinstance(follower, Repairable) for follower in followers):
        return None
    names = [follower.identity for follower in followers if isinstance(follower, Repairable)]
    return FollowerJournal(directory, leader.identity, names)


def _names(sinks: Sequence[Sink | Repairable]) -> str:
    return ", ".join(sink.name for sink in sinks)


def _elsewhere(journal: JournalFile) -> str:
    """The warning for a journal this run cannot repair (other database or folder)."""
    return (
        f"{len(journal.owed):,} rows are owed to {', '.join(journal.followers)} from the "
        f"database {journal.leader} (journal {journal.path}); run a command with that "
        "database and sink configured to write them"
    )


class BatchWriter:
    """Writes batches to `sinks` in order (see the module docstring). `journal_dir`: where
    the follower journal lives (`<data dir>/journal`); None keeps no journal. The sinks
    are the caller's to close; `close()` ends only what the writer opened."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        spool: Spool | None,
        retry_seconds: float,
        result: RunResult,
        overlap: bool = False,
        journal_dir: Path | None = None,
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
        self.journal_dir = journal_dir
        self.journal = _journal_for(self.leaders, self.followers, journal_dir)
        self._following: ThreadPoolExecutor | None = None
        if overlap and self.leaders and self.followers:
            self._following = ThreadPoolExecutor(1, thread_name_prefix="sentpipe-follower")
        # The batch whose followers are still writing, and what finishes its accounting.
        self._behind: tuple[Future[list[str]], Callable[[list[str]], None]] | None = None

    # Writing -----------------------------------------------------------------------

    def write(self, batch: Sequence[RawEventDTO], *, allow_spool: bool = True) -> bool:
        """Write a batch; False if it had to be spooled (or, without spool, failed).

        `allow_spool=False` is the spool's own replay: those events are not the run's
        input, so `durable` does not count them. Raises `SentpipeError` when the journal
        cannot be written (the batch is then written nowhere)."""
        self.result.batches += 1
        if not self.leaders and not self.followers:  # dry run
            return True
        if not self.leaders:
            return self._write_without_leader(batch, allow_spool)
        entry = self._begin(batch)
        outcome = self._write_leader(batch)
        self.flush()  # the batch before: its followers end, its accounting is done
        if outcome is None:
            if allow_spool:
                self._advance(batch, safe=self._spool(batch))
            return False
        errors = len(self.result.errors)
        for extra in self.leaders[1:]:
            self._guarded(extra, batch)
        clean = len(self.result.errors) == errors  # the extra leaders took it

        def finish(failures: list[str]) -> None:
            self._finish(batch, outcome, failures, allow_spool, entry, clean=clean)

        if self._following is not None and outcome.new:
            self._behind = (self._following.submit(self._follow, outcome), finish)
        else:
            finish(self._follow(outcome) if outcome.new else [])
        return True

    def _write_without_leader(self, batch: Sequence[RawEventDTO], allow_spool: bool) -> bool:
        """No database: the first sink de-duplicates itself, the others get the whole batch."""
        outcome = self._guarded(self.followers[0], batch)
        if outcome is None:
            self._advance(batch, safe=False)
            return False
        failures: list[str] = []
        for follower in self.followers[1:]:
            self._guarded(follower, batch, failures)
        self._finish(batch, outcome, failures, allow_spool, None, clean=True)
        return True

    def _begin(self, batch: Sequence[RawEventDTO]) -> int | None:
        """Journal the batch's keys before the leader commits it (None: no journal)."""
        if self.journal is None:
            return None
        try:
            return self.journal.begin(batch)
        except OSError as error:
            raise SentpipeError(
                f"cannot write the follower journal in {self.journal.directory}: "
                f"{error.strerror or error}",
                "free space in SENTPIPE_DATA_DIR, then run the same command again "
                "(the batch was written to no sink)",
            ) from error

    def flush(self) -> None:
        """Wait for the followers of the last batch and finish its accounting (overlap
        mode; nothing to do otherwise). An unforeseen error of a follower is raised here."""
        if self._behind is None:
            return
        future, finish = self._behind
        self._behind = None
        finish(future.result())

    def _follow(self, outcome: WriteResult) -> list[str]:
        """The followers' writes of what the leader newly stored (on the follower
        thread), each follower's topic links first (`TakesLinks`): their failures."""
        failures: list[str] = []
        for follower in self.followers:
            self._guarded(follower, outcome.new, failures, outcome.links)
        return failures

    def _finish(
        self,
        batch: Sequence[RawEventDTO],
        outcome: WriteResult,
        failures: list[str],
        allow_spool: bool,
        entry: int | None,
        *,
        clean: bool,
    ) -> None:
        """Count a written batch (`failures`: its followers', added to the run's errors),
        mark it done in the journal when every follower took it, make it durable when
        every sink did (`clean`: the other leaders took it), report progress."""
        self.result.errors.extend(failures)
        self._count(batch, outcome)
        if entry is not None and not failures and self.journal is not None:
            self.journal.done(entry)
        if allow_spool:
            self._advance(batch, safe=clean and not failures)
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
        self,
        sink: Sink,
        batch: Sequence[RawEventDTO],
        failures: list[str] | None = None,
        links: Sequence[Link] = (),
    ) -> WriteResult | None:
        """Write to a non-leading sink, the batch's topic `links` first when it keeps
        them (`TakesLinks`); its failure is reported (in the run's errors, or in
        `failures` on the follower thread), not fatal."""
        try:
            if links and isinstance(sink, TakesLinks):
                sink.write_links(links)
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
        try:
            path = self.spool.write(batch)
        except OSError as error:
            raise SentpipeError(
                f"the database is down and {len(batch):,} records cannot be spooled in "
                f"{self.spool.directory}: {error.strerror or error}",
                "free space in SENTPIPE_DATA_DIR, then run the same command again "
                "once the database is back",
            ) from error
        self.result.spooled += len(batch)
        LOGGER.warning("spooled %d records to %s", len(batch), path)
        return True

    def _count(self, batch: Sequence[RawEventDTO], outcome: WriteResult) -> None:
        for link in outcome.links:
            self.result.count_links(link.topic, link.via)
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
                self.result.spooled += self.spool.pending_records()  # still waiting
                break
            self.flush()  # every sink has the rows before their spool file goes
            self.spool.remove(path)
            replayed += len(events)
        self.result.replayed += replayed
        return replayed

    # Followers left behind ----------------------------------------------------------

    def repair_followers(self) -> int:
        """Give the followers the rows that journals of finished runs say they may miss
        (`pipeline.journal`): rows the database holds and no running run is about to
        write, written unless the follower has them already. A journal is deleted once
        repaired; one for another database or follower is left, with a warning. A
        failure (database down, the follower's disk full) is in the run's errors and
        the journal stays for the next run. Returns the rows written."""
        if self.journal is None or self.journal_dir is None:
            return 0
        leader = self.leaders[0]
        assert isinstance(leader, StoredRows)
        mine = {f.identity: f for f in self.followers if isinstance(f, Repairable)}
        repaired = 0
        with journals.stale_journals(self.journal_dir) as stale:
            held = {journal.path for journal in stale}
            for journal in stale:
                if journal.leader != leader.identity or not set(journal.followers) <= set(mine):
                    if journal.owed:
                        self.result.warnings.append(_elsewhere(journal))
                    continue
                targets = [mine[name] for name in journal.followers]
                done = self._repair_one(journal, leader, targets, held)
                if done is None:
                    break
                repaired += done
                journal.path.unlink(missing_ok=True)
        self.result.repaired += repaired
        return repaired

    def _repair_one(
        self,
        journal: JournalFile,
        leader: StoredRows,
        targets: Sequence[Repairable],
        held: set[Path],
    ) -> int | None:
        """Repair one journal's owed rows in chunks; None on failure (noted in errors).
        Order matters against runs going on now: the database is asked first, then the
        live journals (a row stored by a running run is in its journal until its own
        follower wrote it), then the follower's files."""
        written = 0
        for start in range(0, len(journal.owed), _REPAIR_CHUNK):
            keys = journal.owed[start : start + _REPAIR_CHUNK]
            try:
                stored = leader.stored(keys)
            except (TransientError, SentpipeError) as error:
                self.result.errors.append(
                    f"{len(journal.owed):,} rows owed to the {_names(targets)} sink by an "
                    f"interrupted run wait for the database ({error}); run again once it is up"
                )
                return None
            if not stored:
                continue
            live = journals.live_keys(journal.path.parent, exclude=held)
            missing = [event for event in stored if event.key not in live]
            for follower in targets:
                try:
                    written += follower.repair(missing)
                except (TransientError, OSError) as error:
                    message = f"{follower.name} sink failed: {error}"
                    LOGGER.error(message)
                    self.result.errors.append(message)
                    return None
        return written

    def close(self) -> None:
        """Finish the last batch (`flush`), stop the follower thread and close the
        journal (kept if anything is owed). The sinks are the caller's: they stay open."""
        try:
            self.flush()
        finally:
            if self._following is not None:
                self._following.shutdown(wait=True)
            if self.journal is not None:
                self.journal.close()
