"""`sentpipe ingest ndjson` as a library: an NDJSON file (or standard input) of records
already in event shape into the pipeline.

`ingest_ndjson` opens its job (`pipeline.open_job`: the sinks, their databases checked)
and runs `sources.ndjson.ndjson_records` through it; the lines are parsed and validated
in worker processes when `SENTPIPE_PARSE_WORKERS` allows (`parallel.parse_workers`). A
cut-off compressed input is an error of the result (every complete line is stored), and
so is an input of which no line was a valid record but some were dead-lettered (likely
not NDJSON in event shape). Nothing here knows typer or rich.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.settings import Settings

__all__ = ["ingest_ndjson", "ingest_ndjson_async"]


async def ingest_ndjson_async(
    settings: Settings,
    path: str,
    *,
    dry_run: bool = False,
    on_progress: Callable[[RunResult], None] | None = None,
    stop: asyncio.Event | None = None,
) -> RunResult:
    """Ingest `path` (`-` for standard input) into the sinks `settings.sinks` names;
    `dry_run` validates only. Returns the `RunResult`; raises
    `ConfigError` (an unknown sink, a database not migrated, an input that is not NDJSON)
    and `DatabaseUnreachable` before anything is written. SIGINT/SIGTERM set `stop`."""
    from sentiment_pipeline.parallel import parse_workers
    from sentiment_pipeline.pipeline import open_job
    from sentiment_pipeline.sources.decode import CompressedInputError
    from sentiment_pipeline.sources.ndjson import ndjson_records
    from sentiment_pipeline.sources.sniff import no_valid_record

    records = ndjson_records(
        path, workers=parse_workers(settings), max_payload_bytes=settings.max_payload_bytes
    )
    result = RunResult()
    try:
        async with open_job(settings, dry_run=dry_run) as job:
            await job.run(records, on_progress=on_progress, result=result, stop=stop)
    except CompressedInputError as error:  # cut off: every complete line is stored
        result.errors.append(str(error))
    label = "stdin" if path == "-" else path
    verdict = no_valid_record(label, result.valid, result.invalid, "NDJSON in event shape")
    if verdict is not None and not result.stopped_early and not result.errors:
        result.errors.append(verdict)
    return result


def ingest_ndjson(
    settings: Settings,
    path: str,
    *,
    dry_run: bool = False,
    on_progress: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Synchronous `ingest_ndjson_async` (one event loop per run); same arguments,
    result and errors."""
    return asyncio.run(
        ingest_ndjson_async(settings, path, dry_run=dry_run, on_progress=on_progress)
    )
