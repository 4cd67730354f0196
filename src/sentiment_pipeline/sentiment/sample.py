"""`sentiment sample`: a stratified sample of scored events, as a CSV file to label.

The population is the events `model` scored (`sentiment_scores`, within
[since, until) of `occurred_at`). Strata are (source, source id, predicted label):
Reddit's subreddits, HN's story kinds, each split by the model's label, so a rare
class or a small community is not left out. `allocate` shares `n` among the strata in
proportion to their sizes (largest remainders), with at least one per stratum when `n`
is at least the number of strata; with fewer, the largest strata get one each.

Within a stratum the events are taken at positions drawn by `random.Random` seeded with
the seed and the stratum (its order: id, then occurred_at, byte-wise), and the file's
rows are shuffled with the seed, so predicted labels come mixed. The same seed over the
same stored scores gives the same file, on every backend. Cost: one count per stratum
and one ordered pass over the model's scores in range, in one snapshot.

The file has `SAMPLE_COLUMNS`; `text` is the source's text of the event (the source
contract `sources.source_spec(source).text(event_type, payload)`: plain text for Hacker
News; before the scorer's cleaning) and `label` is empty, for a person to fill in. It
is a valid `sentiment eval --labels` file as it is (its `id` column wins).
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import SentpipeError
from sentiment_pipeline.timeparse import canonical_text, storage_text, to_utc

__all__ = [
    "JSON_VERSION",
    "SAMPLE_COLUMNS",
    "SampleResult",
    "SampleRow",
    "Stratum",
    "allocate",
    "sample_events",
    "write_sample",
]

JSON_VERSION = 1
SAMPLE_COLUMNS = ("id", "source", "source_id", "occurred_at", "predicted", "text", "label")
Stratum = tuple[str, str, str]  # (source, source_id, predicted label)
_CHUNK = 500  # ids per text query


def allocate(counts: Mapping[Stratum, int], n: int) -> dict[Stratum, int]:
    """How many to take of each non-empty stratum: in total min(n, population), at most
    a stratum's size, at least 1 each when n >= the number of strata, otherwise 1 for
    each of the n largest (ties by name); the rest in proportion to size (the strata
    furthest below their share get the leftovers, the largest first on a tie)."""
    keys = sorted(k for k, c in counts.items() if c > 0)
    total = sum(counts[k] for k in keys)
    if n >= total:
        return {k: counts[k] for k in keys}
    if n < len(keys):
        chosen = set(sorted(keys, key=lambda k: (-counts[k], k))[:n])
        return {k: int(k in chosen) for k in keys}
    target = {k: n * counts[k] / total for k in keys}
    alloc = {k: min(counts[k], max(1, math.floor(target[k]))) for k in keys}
    left = n - sum(alloc.values())
    while left > 0:
        room = [k for k in keys if alloc[k] < counts[k]]
        alloc[max(room, key=lambda k: (target[k] - alloc[k], counts[k]))] += 1
        left -= 1
    while left < 0:  # the minimum of 1 took more than n: give back from the most over
        over = [k for k in keys if alloc[k] > 1]
        alloc[max(over, key=lambda k: (alloc[k] - target[k], counts[k]))] -= 1
        left += 1
    return alloc


@dataclass(frozen=True)
class SampleRow:
    id: str
    source: str
    source_id: str
    occurred_at: datetime  # UTC
    predicted: str
    text: str

    def record(self) -> list[str]:
        """The row as the file has it (`SAMPLE_COLUMNS`, label empty)."""
        return [
            self.id,
            self.source,
            self.source_id,
            canonical_text(self.occurred_at),
            self.predicted,
            self.text,
            "",
        ]


@dataclass
class SampleResult:
    """A sample and how it was drawn; `to_dict()` is the `--json` shape."""

    model: str
    seed: int
    population: int = 0
    strata: dict[Stratum, tuple[int, int]] = field(default_factory=dict)  # (size, taken)
    rows: list[SampleRow] = field(default_factory=list)
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": JSON_VERSION,
            "file": self.path,
            "model": self.model,
            "seed": self.seed,
            "population": self.population,
            "rows": len(self.rows),
            "strata": [
                {
                    "source": source,
                    "source_id": source_id,
                    "predicted": label,
                    "events": size,
                    "sampled": taken,
                }
                for (source, source_id, label), (size, taken) in sorted(self.strata.items())
            ],
        }


class _Reader:
    """Reads of one snapshot through the backend's sentiment store connection."""

    def __init__(self, url: DatabaseURL) -> None:
        from sentiment_pipeline.sentiment.report import open_store

        self.backend = url.backend
        self.mark = "%s" if url.backend == "postgresql" else "?"
        self._store = open_store(url)
        self._conn: Any = self._store._conn
        with self._store._guard():
            if self.backend == "postgresql":
                self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            else:
                self._conn.execute("BEGIN")

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._store._guard():
            return [tuple(row) for row in self._conn.execute(sql, list(params)).fetchall()]

    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """Rows a few thousand at a time (a server-side cursor on PostgreSQL)."""
        with self._store._guard():
            if self.backend == "postgresql":
                cursor = self._conn.cursor(name="sentpipe_sample")
                cursor.execute(sql, list(params))
            else:
                cursor = self._conn.execute(sql, list(params))
            while batch := cursor.fetchmany(5000):
                yield from (tuple(row) for row in batch)
            cursor.close()

    def close(self) -> None:
        try:
            with self._store._guard():
                if self.backend == "postgresql":
                    self._conn.rollback()
                else:
                    self._conn.execute("ROLLBACK")
        finally:
            self._store.close()


def _where(
    reader: _Reader, model: str, since: datetime | None, until: datetime | None
) -> tuple[str, list[Any]]:
    clauses, params = [f"model = {reader.mark}"], list[Any]([model])
    for bound, op in ((since, ">="), (until, "<")):
        if bound is not None:
            clauses.append(f"occurred_at {op} {reader.mark}")
            params.append(bound if reader.backend == "postgresql" else storage_text(bound))
    return " AND ".join(clauses), params


def _picked(
    reader: _Reader,
    where: str,
    params: list[Any],
    taken: Mapping[Stratum, int],
    sizes: Mapping[Stratum, int],
    seed: int,
) -> list[tuple[Stratum, str, Any]]:
    """(stratum, id, occurred_at) of the events at the drawn positions of each stratum."""
    positions = {
        k: set(random.Random(f"{seed}/{'/'.join(k)}").sample(range(sizes[k]), taken[k]))
        for k in taken
        if taken[k]
    }
    order = 'id COLLATE "C"' if reader.backend == "postgresql" else "id"
    seen: dict[Stratum, int] = {}
    out: list[tuple[Stratum, str, Any]] = []
    for source, source_id, label, ident, occurred_at in reader.stream(
        f"SELECT source, source_id, label, id, occurred_at FROM sentiment_scores "
        f"WHERE {where} ORDER BY {order}, occurred_at",
        params,
    ):
        key = (str(source), str(source_id), str(label))
        at = seen.get(key, 0)
        seen[key] = at + 1
        if at in positions.get(key, ()):
            out.append((key, ident, occurred_at))
    return out


def _texts(
    reader: _Reader, picked: Sequence[tuple[Stratum, str, Any]]
) -> dict[tuple[str, str], str]:
    """(id, storage time text) -> the source's text of each picked event."""
    from sentiment_pipeline.db.queries import payload_text_sql
    from sentiment_pipeline.sentiment.clean import text_plan
    from sentiment_pipeline.sources import source_spec

    keys = text_plan().keys
    fields = "".join(f", {payload_text_sql(reader.backend, key)}" for key in keys)
    ids = sorted({ident for _, ident, _ in picked})
    out: dict[tuple[str, str], str] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in reader.rows(
            f"SELECT id, occurred_at, source, event_type{fields} FROM raw_events "
            f"WHERE id IN ({', '.join([reader.mark] * len(chunk))})",
            chunk,
        ):
            payload = {k: v for k, v in zip(keys, row[4:], strict=True) if isinstance(v, str)}
            text = source_spec(row[2]).text(row[3], payload)
            out[(row[0], str(row[1]))] = text or ""
    return out


def sample_events(
    url: DatabaseURL,
    n: int,
    *,
    model: str = "vader",
    since: datetime | None = None,
    until: datetime | None = None,
    seed: int = 0,
) -> SampleResult:
    """Draw `n` events scored by `model` (a registry name or a stored model id) as the
    module docstring says. Raises ConfigError (unknown model name or stored id,
    unmigrated database), SentpipeError when nothing in range is scored (an empty file
    to label helps nobody), DatabaseUnreachable."""
    from sentiment_pipeline.sentiment.counts import check_stored_model
    from sentiment_pipeline.sentiment.scorers import stored_model_id

    model_id = stored_model_id(model)
    result = SampleResult(model_id, seed)
    reader = _Reader(url)
    try:
        where, params = _where(reader, model_id, since, until)
        sizes: dict[Stratum, int] = {
            (str(a), str(b), str(c)): int(d)
            for a, b, c, d in reader.rows(
                f"SELECT source, source_id, label, count(*) FROM sentiment_scores "
                f"WHERE {where} GROUP BY source, source_id, label",
                params,
            )
        }
        if not sizes:
            check_stored_model(reader.rows, reader.backend, model, model_id)
            raise SentpipeError(
                f"no events scored by {model_id} in this range: nothing to sample",
                "run `sentpipe sentiment score` first, or widen --since/--until",
            )
        taken = allocate(sizes, n)
        picked = _picked(reader, where, params, taken, sizes, seed)
        texts = _texts(reader, picked)
    finally:
        reader.close()
    result.population = sum(sizes.values())
    result.strata = {k: (sizes[k], taken.get(k, 0)) for k in sizes}
    rows = [
        SampleRow(ident, k[0], k[1], to_utc(at), k[2], texts.get((ident, str(at)), ""))
        for k, ident, at in sorted(picked, key=lambda p: (p[0], p[1], str(p[2])))
    ]
    random.Random(seed).shuffle(rows)
    result.rows = rows
    return result


def write_sample(path: Path | BinaryIO, rows: Sequence[SampleRow], force: bool = False) -> None:
    """The rows as RFC 4180 CSV (UTF-8, header row, CRLF) at `path`, written atomically
    (`export.atomic_output`; a `.gz` name is gzipped), or into a binary stream (standard
    output for `-o -`). ConfigError when `path` exists and not `force`."""
    from sentiment_pipeline.export import _refuse_existing, atomic_output

    if not isinstance(path, Path):
        _write_csv(path, rows)
        return
    _refuse_existing([path], force)
    with atomic_output(path) as stream:
        _write_csv(stream, rows)


def _write_csv(stream: BinaryIO, rows: Sequence[SampleRow]) -> None:
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(SAMPLE_COLUMNS)
    writer.writerows(row.record() for row in rows)
    text.flush()
    text.detach()
