"""`sentpipe sentiment rollup`: what the daily rollup `sentiment_daily` holds, and
`--rebuild`, which recomputes it from the scores (`db.rollup.rebuild`).

Every writer keeps the rollup current in its own transaction; a rebuild is for rows
written around sentpipe (SQL by hand, a restore of one table) and is safe while scorers
run: it takes the rollup writers' lock, so they wait for it, and it is one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sentiment_pipeline.db import rollup
from sentiment_pipeline.db.url import DatabaseURL

__all__ = ["RollupState", "rebuild_rollup", "rollup_state"]


@dataclass(frozen=True)
class RollupState:
    """The rollup: `rows`, the `first_day`/`last_day` they cover (None when empty), the
    `models` with rows, and after a rebuild the day it started from (`since`, None:
    every day) and its `seconds`. `to_dict()` is the `--json` shape."""

    rows: int
    first_day: date | None
    last_day: date | None
    models: tuple[str, ...]
    rebuilt: bool = False
    since: date | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        def day(value: date | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "rows": self.rows,
            "first_day": day(self.first_day),
            "last_day": day(self.last_day),
            "models": list(self.models),
            "rebuilt": self.rebuilt,
            "since": day(self.since),
            "seconds": round(self.seconds, 3),
        }


def rollup_state(url: DatabaseURL) -> RollupState:
    """What the rollup holds. Raises ConfigError for an unmigrated database,
    DatabaseUnreachable when the server does not answer."""
    store = _open(url)
    try:
        with store._guard():
            return _state(store._conn)
    finally:
        store.close()


def rebuild_rollup(url: DatabaseURL, since: datetime | None = None) -> RollupState:
    """Recompute the rollup from the scores, for every day or the UTC days from
    `since`'s on, in one transaction; returns the state after. Errors as
    `rollup_state`."""
    day = None if since is None else since.astimezone(UTC).date()
    store = _open(url)
    started = time.monotonic()
    try:
        with store._guard():
            connection = store._conn
            if url.backend == "sqlite":
                connection.execute("BEGIN IMMEDIATE")
            rollup.lock(connection, url.backend)
            rollup.rebuild(connection, url.backend, day)
            if url.backend == "sqlite":
                connection.execute("COMMIT")
            else:
                connection.commit()
            state = _state(connection)
    except BaseException:
        store.rollback()
        raise
    finally:
        store.close()
    seconds = time.monotonic() - started
    return RollupState(
        state.rows, state.first_day, state.last_day, state.models, True, day, seconds
    )


def _open(url: DatabaseURL) -> Any:
    from sentiment_pipeline.sentiment.report import open_store

    return open_store(url)  # its guard reads a missing table as "run sentpipe db init"


def _state(connection: Any) -> RollupState:
    row = connection.execute("SELECT count(*), min(day), max(day) FROM sentiment_daily").fetchone()
    models = connection.execute("SELECT DISTINCT model FROM sentiment_daily ORDER BY model")
    return RollupState(
        int(row[0]),
        _date(row[1]),
        _date(row[2]),
        tuple(str(model) for (model,) in models.fetchall()),
    )


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
