"""Service mode (`--every`) and the Prometheus metrics file, on real runs.

The schedule loop runs real scrapes against the fake Reddit API into SQLite; the signal
tests run the installed command and send it SIGTERM between and during runs.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sentiment_pipeline.errors import LockHeld
from sentiment_pipeline.fake_reddit import (
    FaultSpec,
    RunningFakeReddit,
    SubredditSpec,
    fixture_config,
)
from sentiment_pipeline.lock import run_lock
from sentiment_pipeline.refresh import RefreshOptions, refresh_reddit
from sentiment_pipeline.scrape import (
    RedditScrapeOptions,
    TargetOverrides,
    resolve_targets,
    scrape_reddit,
)
from sentiment_pipeline.sentiment import ScoreOptions, score_events
from sentiment_pipeline.service import (
    RunFigures,
    RunMetrics,
    Schedule,
    StopFlag,
    parse_metrics,
    run_every,
    write_metrics,
)
from tests.fixtures.cli import invoke
from tests.fixtures.events import stored_rows
from tests.test_refresh import settings_for, store_items
from tests.test_scrape import fake_env, scrape_settings

SENTPIPE = Path(sys.executable).with_name("sentpipe")
FakeFactory = Callable[..., RunningFakeReddit]


def _value(path: Path, name: str, **labels: str) -> float | None:
    samples = parse_metrics(path.read_text(encoding="utf-8"))
    return samples.get((name, tuple(sorted(labels.items()))))


def _wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


# --- the metrics file -------------------------------------------------------------------


def _metrics(started: float, code: int, **counters: float) -> RunMetrics:
    figures = RunFigures(
        counters=dict(counters),
        per_target={"python": {"events_fetched": 3, "requests": 2}},
        target_label="subreddit",
    )
    return RunMetrics("scrape", started, 1.5, code, figures)


def test_metrics_parse_and_the_last_success_survives_a_failed_run(tmp_path: Path) -> None:
    path = tmp_path / "sentpipe_scrape.prom"
    write_metrics(path, _metrics(1_700_000_000.0, 0, events_fetched=10, events_spooled=0))
    assert _value(path, "sentpipe_last_success_timestamp_seconds", command="scrape") == (
        1_700_000_000.0
    )
    assert _value(path, "sentpipe_run_events_fetched", command="scrape") == 10
    assert _value(path, "sentpipe_subreddit_requests", command="scrape", subreddit="python") == 2

    write_metrics(path, _metrics(1_700_000_900.0, 3, events_fetched=0, events_spooled=7))
    assert _value(path, "sentpipe_last_run_timestamp_seconds", command="scrape") == 1_700_000_900
    assert _value(path, "sentpipe_last_exit_code", command="scrape") == 3
    assert _value(path, "sentpipe_run_events_spooled", command="scrape") == 7
    assert _value(path, "sentpipe_last_success_timestamp_seconds", command="scrape") == (
        1_700_000_000.0
    )
    assert _value(path, "sentpipe_run_duration_seconds", command="scrape") == 1.5
    assert oct(path.stat().st_mode & 0o777) == "0o644"

    write_metrics(path, _metrics(1_700_001_800.0, 0))
    assert _value(path, "sentpipe_last_success_timestamp_seconds", command="scrape") == (
        1_700_001_800.0
    )


def test_a_failed_run_without_any_earlier_success_has_no_success_series(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    write_metrics(path, _metrics(1_700_000_000.0, 1))
    assert _value(path, "sentpipe_last_exit_code", command="scrape") == 1
    assert _value(path, "sentpipe_last_success_timestamp_seconds", command="scrape") is None


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.prom"
    write_metrics(path, _metrics(1_700_000_000.0, 0, events_fetched=10))
    before = path.read_bytes()

    def broken_fsync(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_metrics(path, _metrics(1_700_000_900.0, 0, events_fetched=99))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.prom"]


def test_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    big = RunFigures(
        counters={"events_fetched": 1},
        per_target={f"sub{i}": {"events_fetched": i, "requests": i} for i in range(300)},
        target_label="subreddit",
    )
    write_metrics(path, RunMetrics("scrape", 1.0, 1.0, 0, big))
    stop = threading.Event()
    seen: list[int] = []
    bad: list[str] = []

    def read() -> None:
        while not stop.is_set():
            text = path.read_text(encoding="utf-8")
            samples = parse_metrics(text)
            if len(samples) != len(parse_metrics(first)):
                bad.append(text[-200:])
            seen.append(len(text))

    first = path.read_text(encoding="utf-8")
    reader = threading.Thread(target=read)
    reader.start()
    try:
        for run in range(200):
            write_metrics(path, RunMetrics("scrape", float(run), 1.0, run % 2, big))
    finally:
        stop.set()
        reader.join()
    assert seen and not bad
    assert [p.name for p in tmp_path.iterdir()] == ["m.prom"]


# --- the schedule loop ------------------------------------------------------------------


def test_two_runs_happen_and_the_lock_is_free_between_them(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    targets = resolve_targets([], ["tiny"], TargetOverrides(comments=False))
    held_during_run: list[bool] = []
    free_between: list[bool] = []
    stop = StopFlag()

    def lock_is_free() -> bool:
        try:
            with run_lock(settings.lock_path):
                return True
        except LockHeld:
            return False

    def once() -> int:
        def progress(_: object) -> None:
            held_during_run.append(not lock_is_free())

        result = scrape_reddit(settings, targets, RedditScrapeOptions(), on_progress=progress)
        return int(result.exit_code)

    def between(seconds: float) -> None:
        free_between.append(lock_is_free())
        fake_reddit.add_posts("tiny", 2)

    runs = run_every(once, Schedule(every=0.2), stop, on_wait=between, max_runs=2)
    assert runs == 2
    assert free_between == [True]
    assert held_during_run and all(held_during_run)
    assert (
        len(stored_rows(f"sqlite:///{tmp_path / 'sentpipe.db'}")) == 5 + 2
    )  # the second run found the new posts


def test_a_failing_run_is_reported_and_the_next_one_still_comes(tmp_path: Path) -> None:
    calls: list[str] = []
    failures: list[Exception] = []

    def once() -> int:
        calls.append("run")
        if len(calls) == 1:
            raise LockHeld("another sentpipe scrape is running")
        return 0

    def failed(error: Exception) -> int:
        failures.append(error)
        return int(getattr(error, "exit_code", 1))

    runs = run_every(once, Schedule(every=0.01), StopFlag(), on_failure=failed, max_runs=2)
    assert runs == 2 and len(calls) == 2
    assert [type(e).__name__ for e in failures] == ["LockHeld"]


def test_a_stop_between_runs_ends_the_wait_at_once() -> None:
    stop = StopFlag()
    runs: list[int] = []

    def once() -> int:
        runs.append(1)
        threading.Timer(0.1, stop.set).start()
        return 0

    assert run_every(once, Schedule(every=3600), stop) == 1
    assert runs == [1]


def test_a_job_that_plans_its_cadence_sets_the_wait_and_the_jitter_still_spreads_it() -> None:
    class NoSleep(StopFlag):
        def wait(self, seconds: float) -> bool:
            return False  # the waits are recorded, not slept

    waits: list[float] = []
    planned = iter([7.0, None])
    runs = run_every(
        lambda: 0,
        Schedule(every=3600, jitter=5),
        NoSleep(),
        on_wait=waits.append,
        max_runs=3,
        planned=lambda: next(planned, None),
        clock=lambda: 1000.0,  # frozen: the waits are what the loop asks for
    )
    assert runs == 3
    assert 7.0 <= waits[0] <= 12.0  # the job's 7 s plus up to 5 s of jitter
    assert waits[1] >= 3600  # no plan: the schedule's


def test_schedule_keeps_start_to_start_spacing_and_jitter_bounds() -> None:
    import random

    plain = Schedule(every=60)
    assert plain.next_start(started=1000, now=1010) == 1060
    assert plain.next_start(started=1000, now=1100) == 1100  # overran: next one at once
    jittery = Schedule(every=60, jitter=30)
    starts = [jittery.next_start(1000, 1010, random.Random(seed)) for seed in range(50)]
    assert all(1060 <= s <= 1090 for s in starts) and len(set(starts)) > 1


def test_score_stops_between_batches_when_asked(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    targets = resolve_targets([], ["stocks"], TargetOverrides(comments=False, limit=20))
    scrape_reddit(settings, targets, RedditScrapeOptions())
    batches: list[int] = []
    result = score_events(
        settings.database,
        ScoreOptions(batch_size=5),
        lock_path=tmp_path / "sentiment.lock",
        progress=lambda scored, skipped: batches.append(scored + skipped),
        stop=lambda: len(batches) >= 2,
    )
    assert result.batches == 2 and result.scored + result.skipped == 10
    assert result.waiting == 10


# --- the commands -----------------------------------------------------------------------


def test_one_run_writes_metrics_to_the_metrics_dir(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path / "data")
    env["SENTPIPE_METRICS_DIR"] = str(tmp_path / "metrics")
    done = invoke("scrape", "reddit", "-s", "tiny", "--no-comments", env=env)
    assert done.exit_code == 0, done.output
    scrape = tmp_path / "metrics" / "sentpipe_scrape.prom"
    assert _value(scrape, "sentpipe_last_exit_code", command="scrape") == 0
    assert _value(scrape, "sentpipe_run_events_inserted", command="scrape") == 5
    tiny = {"command": "scrape", "subreddit": "tiny"}
    assert _value(scrape, "sentpipe_subreddit_events_fetched", **tiny) == 5
    assert (_value(scrape, "sentpipe_subreddit_requests", **tiny) or 0) >= 1
    assert _value(scrape, "sentpipe_run_requests", command="scrape") is not None

    done = invoke("sentiment", "score", env=env)
    assert done.exit_code == 0, done.output
    score = tmp_path / "metrics" / "sentpipe_sentiment_score.prom"
    labels = {"command": "sentiment_score"}
    assert _value(score, "sentpipe_run_events_scored", **labels) == 5
    assert _value(score, "sentpipe_run_events_skipped", **labels) == 0
    assert _value(score, "sentpipe_run_events_skipped_language", **labels) == 0
    assert _value(score, "sentpipe_last_success_timestamp_seconds", **labels) is not None


def test_an_error_of_a_single_run_is_in_the_metrics_and_the_exit_code(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path)
    metrics = tmp_path / "m" / "scrape.prom"
    with run_lock(tmp_path / "scrape.lock"):
        done = invoke("scrape", "reddit", "-s", "tiny", "--metrics-file", str(metrics), env=env)
    assert done.exit_code == 4
    assert "another sentpipe scrape is running" in done.output
    assert _value(metrics, "sentpipe_last_exit_code", command="scrape") == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jitter", "1m"], "--jitter needs --every"),
        (["--every", "soon"], "--every 'soon' is not a duration"),
        (["--every", "15m", "--jitter", "0s"], "--jitter '0s' must be longer than zero"),
    ],
)
def test_bad_schedules_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    env = {"SENTPIPE_DATA_DIR": str(tmp_path)}
    done = invoke("sentiment", "score", *args, env=env)
    assert done.exit_code == 2
    assert message in done.output


def test_failed_run_then_good_runs_in_service_mode(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    """run 1 good, a run refused (lock held by someone else: exit 4), then good again;
    SIGTERM between runs ends the service with 0."""
    env = fake_env(fake_reddit, tmp_path)
    metrics = tmp_path / "scrape.prom"
    code = lambda: _value(metrics, "sentpipe_last_exit_code", command="scrape")  # noqa: E731
    success: list[float | None] = []
    problems: list[str] = []

    def drive() -> None:
        try:
            if not _wait_for(lambda: metrics.exists() and code() == 0):
                problems.append("no first good run")
                return
            first = _value(metrics, "sentpipe_last_success_timestamp_seconds", command="scrape")
            with run_lock(tmp_path / "scrape.lock", wait=True):
                if not _wait_for(lambda: code() == 4):
                    problems.append("no refused run")
                    return
                success.append(
                    _value(metrics, "sentpipe_last_success_timestamp_seconds", command="scrape")
                )
                success.append(first)
            if not _wait_for(lambda: code() == 0):
                problems.append("no good run after the failure")
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    driver = threading.Thread(target=drive)
    driver.start()
    args = ["scrape", "reddit", "-s", "tiny", "--no-comments", "--every", "0.3s"]
    done = invoke(*args, "--metrics-file", str(metrics), env=env)
    driver.join()
    assert not problems, done.output
    assert done.exit_code == 0, done.output
    assert "another sentpipe scrape is running" in done.output
    assert "scrape: stopped (SIGTERM)" in done.output
    assert success[0] is not None and success[0] == success[1]  # carried over the failure
    assert (_value(metrics, "sentpipe_last_success_timestamp_seconds", command="scrape") or 0) > (
        success[0]
    )


def _service(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(SENTPIPE), *args],
        env={**os.environ, **env, "PYTHONPATH": os.pathsep.join(sys.path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigterm_between_runs_exits_0_at_once(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path)
    metrics = tmp_path / "scrape.prom"
    args = ["scrape", "reddit", "-s", "tiny", "--every", "1h", "--metrics-file", str(metrics)]
    process = _service(env, *args)
    try:
        assert _wait_for(metrics.exists), "the first run did not finish"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert output.count("r/tiny: done, 5 posts") == 1
    assert "scrape: stopped (SIGTERM)" in output
    with run_lock(tmp_path / "scrape.lock"):
        pass  # released


def test_sigterm_during_a_run_finishes_it_and_exits_0(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    slow = SubredditSpec("slow", posts=300, faults=FaultSpec(delay_seconds=0.3))
    fake = fake_reddit_factory(fixture_config(subreddits=(slow,)))
    env = fake_env(fake, tmp_path)
    metrics = tmp_path / "scrape.prom"
    args = ["scrape", "reddit", "-s", "slow", "--no-comments", "--every", "1s"]
    process = _service(env, *args, "--metrics-file", str(metrics))
    try:
        # a request is counted as its answer leaves, before the client has read it: at the
        # third the first listing page has been read (pages are walked in turn), so the
        # run holds items to finish when the signal comes
        assert _wait_for(lambda: fake.count(subreddit="slow") >= 3), "the run did not start"
        assert not metrics.exists()  # still in the first run
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert "stopped early: interrupted" in output
    assert "scrape: stopped (SIGTERM)" in output
    assert _value(metrics, "sentpipe_last_exit_code", command="scrape") == 0
    stored = _value(metrics, "sentpipe_run_events_inserted", command="scrape")
    assert stored is not None and 0 < stored < 300


# --- refresh reddit ---------------------------------------------------------------------


def _lock_is_free(path: Path) -> bool:
    try:
        with run_lock(path):
            return True
    except LockHeld:
        return False


def test_refresh_runs_twice_and_the_lock_is_free_between_runs(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = settings_for(fake_reddit, tmp_path)
    store_items(settings, 1000, age_seconds=2 * 3600)  # 10 info requests: one progress call
    held_during_run: list[bool] = []
    free_between: list[bool] = []
    due: list[int] = []

    def once() -> int:
        def progress(_: object) -> None:
            held_during_run.append(not _lock_is_free(settings.lock_path))

        result = refresh_reddit(settings, RefreshOptions(), on_progress=progress)
        due.append(result.report.due)
        return int(result.exit_code)

    def between(seconds: float) -> None:
        free_between.append(_lock_is_free(settings.lock_path))
        store_items(settings, 3, age_seconds=2 * 3600, start=5000)  # due in the next run

    runs = run_every(once, Schedule(every=0.2), StopFlag(), on_wait=between, max_runs=2)
    assert runs == 2
    assert free_between == [True]
    assert held_during_run and all(held_during_run)
    assert due == [1000, 3]
    assert fake_reddit.count(route="info") == 10 + 1


def test_refresh_writes_its_figures_to_sentpipe_refresh_prom(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path / "data")
    env["SENTPIPE_METRICS_DIR"] = str(tmp_path / "metrics")
    env["SENTPIPE_COMMENTS_FROM"] = "trees"  # refresh fetches the late comments' trees
    assert invoke("scrape", "reddit", "-s", "tiny", env=env).exit_code == 0
    stored = stored_rows(env["SENTPIPE_DATABASE_URL"])
    posts = [r.id for r in stored if r.event_type == "submission"]
    fake_reddit.edit(posts[0], "I changed my mind")
    fake_reddit.delete(posts[1])
    fake_reddit.remove(posts[2])
    late = fake_reddit.grow(posts[3], comments=2)
    fake_reddit.clear_log()
    args = ["--schedule", "1s", "--max-age", "1s", "--json"]  # every item older than 1 s
    done = invoke("refresh", "reddit", *args, env=env)
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)["extra"]
    path = tmp_path / "metrics" / "sentpipe_refresh.prom"
    labels = {"command": "refresh"}

    def value(name: str) -> float | None:
        return _value(path, f"sentpipe_{name}", **labels)

    assert value("last_exit_code") == 0
    assert value("last_success_timestamp_seconds") is not None
    assert len(posts) <= report["due"] <= len(stored)  # comments made this second wait
    assert value("run_items_due") == value("run_items_observed") == report["due"]
    assert value("run_info_requests") == math.ceil(report["due"] / 100)
    assert value("run_info_requests") == fake_reddit.count(route="info")
    assert value("run_items_edited") == 1
    assert value("run_items_deleted") == 1
    assert value("run_items_removed") == 1
    assert value("run_items_unavailable") == 0
    assert value("run_items_redacted") == 2
    assert value("run_posts_with_new_comments") == 1
    assert value("run_events_inserted") == len(late) == 2  # the late comments
    assert value("run_requests") == fake_reddit.count()  # token + info + comments
    tiny = {"command": "refresh", "subreddit": "tiny"}
    assert _value(path, "sentpipe_subreddit_events_inserted", **tiny) == 2


def test_refresh_every_runs_again_until_sigterm(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path)
    settings = settings_for(fake_reddit, tmp_path)
    store_items(settings, 3, age_seconds=2 * 3600)
    metrics = tmp_path / "refresh.prom"
    starts: list[float | None] = []

    def last_run() -> float | None:
        return _value(metrics, "sentpipe_last_run_timestamp_seconds", command="refresh")

    def drive() -> None:
        try:
            if _wait_for(metrics.exists):
                starts.append(last_run())
                if _wait_for(lambda: last_run() != starts[0]):
                    starts.append(last_run())
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    driver = threading.Thread(target=drive)
    driver.start()
    done = invoke("refresh", "reddit", "--every", "0.3s", "--metrics-file", str(metrics), env=env)
    driver.join()
    assert done.exit_code == 0, done.output
    assert len(starts) == 2, done.output
    assert "refresh: stopped (SIGTERM)" in done.output
    assert done.output.count("refresh: 3 due") == 1
    assert "refresh: 0 due" in done.output  # the runs after it: nothing due again
    assert fake_reddit.count(route="info") == 1
    assert _value(metrics, "sentpipe_last_exit_code", command="refresh") == 0
    assert _value(metrics, "sentpipe_run_items_due", command="refresh") == 0
    assert _lock_is_free(settings.lock_path)
