"""Prometheus metrics of the last run, as a text file for node_exporter's textfile collector.

After each run a command writes `RunMetrics` to one file (`--metrics-file`, or
`sentpipe_<command>.prom` in `SENTPIPE_METRICS_DIR`), replacing it atomically: the text is
written to a temporary file in the same folder, flushed to disk and renamed over the old
one (`os.replace`), so a reader sees the previous file or the new one, never a part.
`prometheus_client` is imported only here, when a file is written.

Every series carries the label `command` (`scrape`, `sentiment_score`, `refresh`,
`ingest_ndjson`, `ingest_reddit_dump`); the per-target ones also the source's target
label (`SourceSpec.target_label`, through `sources.source_spec`):
`sentpipe_<label>_*{<label>="…"}`, for Reddit `sentpipe_subreddit_*{subreddit="…"}`; a
backfill's progress (`sentpipe_backfill_*`) also `file`. A long run may write the file
while it goes on (`RunMetrics.finished` False, see `service.progress`). The names are a
public contract (docs/monitoring.md).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment_pipeline.errors import ConfigError

__all__ = [
    "COUNTERS",
    "FILE_GAUGES",
    "GROUP_GAUGES",
    "TARGET_COUNTERS",
    "TOPIC_GAUGES",
    "RunFigures",
    "RunMetrics",
    "check_metrics_path",
    "figures_from_hn_scrape",
    "figures_from_refresh",
    "figures_from_run",
    "last_success",
    "metrics_path",
    "parse_metrics",
    "render_metrics",
    "write_metrics",
]

LOGGER = logging.getLogger(__name__)

# name suffix -> help text; each becomes the gauge sentpipe_run_<suffix>{command}
COUNTERS: dict[str, str] = {
    "events_fetched": "Records fetched from the source in the last run.",
    "events_inserted": "Events stored for the first time in the last run.",
    "events_duplicates": "Events the database already held, in the last run.",
    "events_dead_lettered": "Records rejected into the dead-letter file in the last run.",
    "events_spooled": "Events waiting in the spool (database unreachable) after the last run.",
    "events_repaired": "Rows the CSV sink had missed (an earlier run interrupted or its disk "
    "full), written to it from the database in the last run.",
    "requests": "API requests made in the last run.",
    "rate_limit_wait_seconds": "Seconds spent waiting for the API rate limit in the last run.",
    "events_scored": "Events scored in the last run.",
    "events_skipped": "Events marked processed without a score (no text, or a language "
    "the model does not score) in the last run.",
    "events_skipped_language": "Of events_skipped: those in a language the model does not "
    "score, in the last run.",
    "items_due": "Stored items due on the refresh schedule in the last run.",
    "info_requests": "/api/info requests (100 items each) in the last run.",
    "items_observed": "Items re-read through /api/info (observations recorded) in the last run.",
    "items_edited": "Items found edited (payload updated, scoring re-queued) in the last run.",
    "items_deleted": "Items found deleted by their author in the last run.",
    "items_removed": "Items found removed by moderators, admins or filters in the last run.",
    "items_unavailable": "Items absent from the /api/info answer in the last run.",
    "items_redacted": "Stored payloads blanked (deleted content, redact policy) in the last run.",
    "posts_with_new_comments": "Posts whose comment trees were fetched again in the last run.",
}
# the same per target: sentpipe_<label>_<suffix>{command, <label>} (Reddit: subreddit)
TARGET_COUNTERS: dict[str, str] = {
    name: COUNTERS[name]
    for name in (
        "events_fetched",
        "events_inserted",
        "events_duplicates",
        "events_dead_lettered",
        "requests",
        "rate_limit_wait_seconds",
    )
}
# a backfill's progress per input file: sentpipe_backfill_<suffix>{command, file}
FILE_GAUGES: dict[str, str] = {
    "lines_done": "Lines of the file done (stored, spooled, dead-lettered or filtered) "
    "at its last checkpoint.",
    "bytes_done": "Bytes of the file (as on disk, compressed) read up to its last checkpoint.",
    "bytes_total": "The file's size in bytes (as on disk, compressed).",
}
# a group of subreddits polled together: sentpipe_group_<suffix>{command, group="a+b"}
GROUP_GAUGES: dict[str, str] = {
    "posts_per_hour": "Observed posts per hour the group's last poll was planned from.",
    "comments_per_hour": "Observed comments per hour the group's last poll was planned from.",
    "interval_seconds": "Planned seconds until the group's next poll (--every).",
    "requests": "Listing requests of the group's last poll.",
    "gaps": "Members whose comment listing reached Reddit's depth before their mark in the "
    "group's last poll.",
}
# a topic's search walk: sentpipe_topic_search_<suffix>{command, topic="tesla"}
TOPIC_GAUGES: dict[str, str] = {
    "posts": "Posts the topic's search brought that its query matched, in the last run.",
    "requests": "Requests of the topic's search walk (pages and comment trees) in the last run.",
    "capped": "1 when the topic's search stopped at Reddit's cap before its mark in the last "
    "run (posts between are missed), else 0.",
}
TOPIC_LINKS = "sentpipe_topic_events_linked"  # {command, topic, via}
TOPIC_LINKS_HELP = "Events the last run stored and linked to the topic, by text or by post."
LAST_SUCCESS = "sentpipe_last_success_timestamp_seconds"


@dataclass
class RunFigures:
    """What a run did, as numbers: `counters` keyed by the names in `COUNTERS`,
    `per_target` {source id: {name in TARGET_COUNTERS: value}}, labelled
    `target_label` (the source's `SourceSpec.target_label`), `per_file` {input file:
    {name in FILE_GAUGES: value}} (a backfill's progress), `per_group` {`a+b+c`: {name in
    GROUP_GAUGES: value}} (the subreddits a scrape polled together), `per_topic` {topic:
    {name in TOPIC_GAUGES: value}} (a scrape's topic searches), `topic_links` {topic:
    {via: links}} (what the run's writes linked, `RunResult.topic_links`). Counters a
    command does not have are left out (no series is written for them)."""

    counters: dict[str, float] = field(default_factory=dict)
    per_target: dict[str, dict[str, float]] = field(default_factory=dict)
    target_label: str = "source_id"
    per_file: dict[str, dict[str, float]] = field(default_factory=dict)
    per_group: dict[str, dict[str, float]] = field(default_factory=dict)
    per_topic: dict[str, dict[str, float]] = field(default_factory=dict)
    topic_links: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunMetrics:
    """One run: `started_at` (Unix seconds), `duration` (seconds), its exit code
    (0 = success) and figures. `command` is the label value and the file name part.
    `finished` False: the run is still going on (its figures so far; no exit code or
    duration is written, the last success is the previous one)."""

    command: str
    started_at: float
    duration: float
    exit_code: int
    figures: RunFigures = field(default_factory=RunFigures)
    finished: bool = True

    @property
    def succeeded(self) -> bool:
        return self.finished and self.exit_code == 0


def figures_from_run(result: Any, source: str | None = None) -> RunFigures:
    """Figures of a pipeline `RunResult` (fetched, inserted, duplicates, dead-lettered,
    spooled; the same per source id, labelled as `source` says, else as the result's
    `source` says, else `source_id`), plus requests and rate-limit wait when the result
    carries a Reddit `report` (`ScrapeResult`; per subreddit too)."""
    figures = _pipeline_figures(result, source)
    report = getattr(result, "report", None)
    if report is not None:
        figures.counters["requests"] = report.requests.total
        figures.counters["rate_limit_wait_seconds"] = sum(
            s.rate_limit_wait for s in report.subreddits.values()
        )
        for name, stats in report.subreddits.items():
            row = figures.per_target.setdefault(name, {})
            row["requests"] = stats.requests
            row["rate_limit_wait_seconds"] = stats.rate_limit_wait
        for path, group in getattr(report, "groups", {}).items():
            figures.per_group[path] = {
                "posts_per_hour": group.posts_per_hour,
                "comments_per_hour": group.comments_per_hour,
                "requests": group.requests,
                "gaps": len(group.gaps),
            }
            if group.interval is not None:
                figures.per_group[path]["interval_seconds"] = group.interval
        figures.per_topic.update(_topic_figures(report))
    return figures


def _topic_figures(report: Any) -> dict[str, dict[str, float]]:
    """Each searched topic's figures (`TOPIC_GAUGES`) from a Reddit `ScrapeReport`."""
    return {
        name: {
            "posts": stats.submissions,
            "requests": stats.requests,
            "capped": 1.0 if stats.capped else 0.0,
        }
        for name, stats in getattr(report, "topics", {}).items()
        if stats.search == "reddit"
    }


def figures_from_hn_scrape(result: Any) -> RunFigures:
    """Figures of an HN `HNScrapeResult`: the pipeline's (per story kind), all requests,
    and per searched topic its stories and comments read, requests and whether its
    first search stopped at the cap (`TOPIC_GAUGES`, as a Reddit topic's)."""
    figures = _pipeline_figures(result, None)
    report = result.report
    figures.counters["requests"] = report.requests.get("total", 0)
    for name, stats in report.targets.items():
        if name.startswith("topic:"):
            figures.per_topic[name.removeprefix("topic:")] = {
                "posts": stats.stories + stats.comments,
                "requests": stats.requests,
                "capped": 1.0 if stats.capped else 0.0,
            }
    return figures


def figures_from_refresh(result: Any, source: str | None = None) -> RunFigures:
    """Figures of a `RefreshResult`: what its `report` counted (items due, info
    requests (HN: item requests, the result's `read_route`), items observed, per state
    edited / deleted / removed / unavailable, redacted, posts with new comments, all
    requests), plus the pipeline's figures of the late comments it stored
    (`events_fetched`, `events_inserted`, …; per subreddit)."""
    report = result.report
    figures = _pipeline_figures(result, source)
    figures.counters.update(
        {
            "items_due": report.due,
            "info_requests": report.requests.get(getattr(result, "read_route", "info"), 0),
            "items_observed": report.asked,
            "items_edited": report.states.get("edited", 0),
            "items_deleted": report.states.get("deleted", 0),
            "items_removed": report.states.get("removed", 0),
            "items_unavailable": report.states.get("unavailable", 0),
            "items_redacted": report.redacted,
            "posts_with_new_comments": report.grown,
            "requests": report.requests["total"],
        }
    )
    return figures


def target_label(source: str | None) -> str:
    """The per-target metrics label of `source` (`SourceSpec.target_label`); `source_id`
    when the run has no single source."""
    if source is None:
        return "source_id"
    from sentiment_pipeline.sources import source_spec

    return source_spec(source).target_label


def _pipeline_figures(result: Any, source: str | None) -> RunFigures:
    figures = RunFigures(
        target_label=target_label(source or getattr(result, "source", None)),
        counters={
            "events_fetched": result.fetched,
            "events_inserted": result.inserted,
            "events_duplicates": result.duplicates,
            "events_dead_lettered": result.invalid,
            "events_spooled": result.spooled,
            "events_repaired": result.repaired,
        },
    )
    for source_id, counts in result.per_source_id.items():
        figures.per_target[source_id] = {
            "events_fetched": counts.fetched,
            "events_inserted": counts.inserted,
            "events_duplicates": counts.duplicates,
            "events_dead_lettered": counts.invalid,
        }
    figures.topic_links = {t: dict(v) for t, v in getattr(result, "topic_links", {}).items()}
    return figures


def metrics_path(command: str, metrics_file: Path | None, metrics_dir: Path | None) -> Path | None:
    """`metrics_file` if given, else `<metrics_dir>/sentpipe_<command>.prom`, else None."""
    if metrics_file is not None:
        return metrics_file
    if metrics_dir is not None:
        return metrics_dir / f"sentpipe_{command}.prom"
    return None


def check_metrics_path(path: Path) -> None:
    """Create the folder of `path`; raise `ConfigError` when it cannot hold the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"cannot create the metrics folder {path.parent}: {error.strerror}",
            "pass a writable --metrics-file or SENTPIPE_METRICS_DIR",
        ) from error
    if path.is_dir() or not os.access(path.parent, os.W_OK):
        raise ConfigError(
            f"cannot write the metrics file {path}",
            "pass a writable --metrics-file or SENTPIPE_METRICS_DIR",
        )


def last_success(path: Path, command: str) -> float | None:
    """`sentpipe_last_success_timestamp_seconds{command=...}` from an existing metrics
    file, or None (no file, unreadable, or no such series)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:  # a first run: nothing to carry over
        return None
    except (OSError, UnicodeDecodeError) as error:
        LOGGER.warning("cannot read the previous metrics file %s: %s", path, error)
        return None
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == LAST_SUCCESS and sample.labels.get("command") == command:
                    return float(sample.value)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        LOGGER.warning("cannot read the previous metrics file %s: %s", path, error)
    return None


def render_metrics(metrics: RunMetrics, previous_success: float | None = None) -> bytes:
    """The Prometheus text format of `metrics`. The last success is this run's start
    when it succeeded, else `previous_success` (the series is left out when neither). A
    run still going on (`finished` False) has no duration and no exit code yet."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry(auto_describe=True)
    labels = {"command": metrics.command}
    families: dict[str, Gauge] = {}

    def gauge(name: str, help_text: str, value: float, **extra: str) -> None:
        if name not in families:
            families[name] = Gauge(name, help_text, ["command", *extra], registry=registry)
        families[name].labels(**labels, **extra).set(value)

    success = metrics.started_at if metrics.succeeded else previous_success
    gauge(
        "sentpipe_last_run_timestamp_seconds",
        "When the last run started (Unix time).",
        metrics.started_at,
    )
    if success is not None:
        gauge(LAST_SUCCESS, "When the last successful run (exit code 0) started.", success)
    if metrics.finished:
        gauge("sentpipe_run_duration_seconds", "How long the last run took.", metrics.duration)
        gauge(
            "sentpipe_last_exit_code", "Exit code of the last run (0 = success).", metrics.exit_code
        )
    for name, value in metrics.figures.counters.items():
        gauge(f"sentpipe_run_{name}", COUNTERS[name], value)
    label = metrics.figures.target_label
    for target, row in sorted(metrics.figures.per_target.items()):
        for name, value in row.items():
            help_text = TARGET_COUNTERS[name].replace("run.", f"run, per {label}.")
            gauge(f"sentpipe_{label}_{name}", help_text, value, **{label: target})
    for file, row in sorted(metrics.figures.per_file.items()):
        for name, value in row.items():
            gauge(f"sentpipe_backfill_{name}", FILE_GAUGES[name], value, file=file)
    for group, row in sorted(metrics.figures.per_group.items()):
        for name, value in row.items():
            gauge(f"sentpipe_group_{name}", GROUP_GAUGES[name], value, group=group)
    for topic, row in sorted(metrics.figures.per_topic.items()):
        for name, value in row.items():
            gauge(f"sentpipe_topic_search_{name}", TOPIC_GAUGES[name], value, topic=topic)
    for topic, by_via in sorted(metrics.figures.topic_links.items()):
        for via, links in sorted(by_via.items()):
            gauge(TOPIC_LINKS, TOPIC_LINKS_HELP, links, topic=topic, via=via)
    return generate_latest(registry)


def write_metrics(path: Path, metrics: RunMetrics) -> None:
    """Replace `path` with the metrics of this run, atomically (temporary file in the same
    folder, fsync, `os.replace`; mode 0644 for node_exporter). A failed run carries the
    previous file's last-success timestamp over. Raises `OSError` when it cannot write
    (the temporary file is removed)."""
    previous = None if metrics.succeeded else last_success(path, metrics.command)
    data = render_metrics(metrics, previous)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def parse_metrics(text: str) -> Mapping[tuple[str, tuple[tuple[str, str], ...]], float]:
    """`{(sample name, sorted labels): value}` of a metrics file's text (for tests and
    checks); raises ValueError on text that is not the Prometheus format."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
