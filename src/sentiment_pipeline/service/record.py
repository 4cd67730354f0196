"""The run record: one row in `run_metrics` (migration 0009) after each finished run, the
same figures as the Prometheus file, so a dashboard (docs/dashboards.md) can read what
the runs did (spooled rows, dead letters, exit codes) from the database.

The record is best effort. The run's data is already safe (stored, or in the spool) when
it is written, so a database that is down, not migrated to 0009, locked or refusing the
login costs one warning, never the run: `record_run` returns the warning instead of
raising, after at most a few seconds (5 s to connect, 5 s per statement). Only the
command name, times, exit code and `RunFigures` (counts keyed by names) are written:
never settings, URLs or credentials.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import SentpipeError, first_line
from sentiment_pipeline.service.metrics import RunMetrics
from sentiment_pipeline.timeparse import storage_text

__all__ = ["TIMEOUT_SECONDS", "record_row", "record_run"]

LOGGER = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5  # the longest a statement (or SQLite's busy wait) may hold a run up

_COLUMNS = "command, finished_at, started_at, duration_seconds, exit_code, figures"


def record_row(metrics: RunMetrics) -> dict[str, Any]:
    """The `run_metrics` row of a finished run: times as UTC datetimes (finished =
    started + duration), `figures` the `RunFigures` as a JSON-ready dict."""
    started = datetime.fromtimestamp(metrics.started_at, UTC)
    finished = datetime.fromtimestamp(metrics.started_at + metrics.duration, UTC)
    return {
        "command": metrics.command,
        "finished_at": finished,
        "started_at": started,
        "duration_seconds": float(metrics.duration),
        "exit_code": int(metrics.exit_code),
        "figures": asdict(metrics.figures),
    }


def record_run(url: DatabaseURL, metrics: RunMetrics) -> str | None:
    """Insert the row of `metrics` (a finished run) into `url`'s `run_metrics`. Returns
    None when written or when there is nothing to write to (an embedded SQLite file
    that does not exist: the run stored nothing there), else a one-line warning that
    names the database by its masked URL. Never raises for a database problem."""
    if not metrics.finished:
        return None
    row = record_row(metrics)
    try:
        if url.backend == "postgresql":
            _insert_pg(url, row)
        else:
            if not url.sqlite_path.is_file():
                LOGGER.debug("no run record: %s does not exist", url.sqlite_path)
                return None
            _insert_sqlite(url, row)
    except SentpipeError as error:  # connecting: down, login refused, no raw_events
        return _warning(url, first_line(error))
    except Exception as error:  # best effort by design: the run's outcome stands
        from sentiment_pipeline.db.errors import driver_message

        return _warning(url, driver_message(url, error))
    return None


def _warning(url: DatabaseURL, reason: str) -> str:
    return (
        f"the run is not recorded in run_metrics of {url.masked}: {reason} "
        "(the dashboards miss it; `sentpipe db init` creates the table)"
    )


def _insert_pg(url: DatabaseURL, row: dict[str, Any]) -> None:
    from psycopg.types.json import Jsonb

    from sentiment_pipeline.db.connect import connect_pg

    connection = connect_pg(url, autocommit=False)
    try:
        connection.execute(f"SET LOCAL statement_timeout = '{TIMEOUT_SECONDS}s'")
        connection.execute(
            f"INSERT INTO run_metrics ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
            (
                row["command"],
                row["finished_at"],
                row["started_at"],
                row["duration_seconds"],
                row["exit_code"],
                Jsonb(row["figures"]),
            ),
        )
        connection.commit()
    finally:
        connection.close()


def _insert_sqlite(url: DatabaseURL, row: dict[str, Any]) -> None:
    import sqlite3

    connection = sqlite3.connect(url.sqlite_path, timeout=TIMEOUT_SECONDS)
    try:
        with connection:
            connection.execute(
                f"INSERT INTO run_metrics ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    row["command"],
                    storage_text(row["finished_at"]),
                    storage_text(row["started_at"]),
                    row["duration_seconds"],
                    row["exit_code"],
                    json.dumps(row["figures"], sort_keys=True),
                ),
            )
    finally:
        connection.close()
