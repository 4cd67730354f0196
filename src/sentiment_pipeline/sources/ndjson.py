"""NDJSON source: one JSON object per line, already in RawEventDTO shape.

Feeds the spool, tests and other producers through the same core. Lines are parsed by
the shared block loop (`sources.blocks.parse_block`, over `sources.jsonlines`): a line
the parser refuses (not JSON, NaN/Infinity, an integer past Python's 4,300-digit limit,
nesting past the recursion limit) becomes a `Rejected` record with its line number
(dead-lettered), never a crash; orjson parses wherever its result is exactly the
standard `json` module's, so every policy and message is the standard parser's.

A file and the same bytes on standard input give the same records: both are read as
bytes and each line is decoded as UTF-8 with `surrogateescape`, so an undecodable byte
becomes a lone surrogate, which validation replaces with U+FFFD and counts as sanitized
(docs/data-quality.md). The input's head is looked at first (`sources.sniff`): zstd,
gzip, bzip2 and xz are decompressed, and what is not one JSON object per line (HTML, a
JSON array, an archive, binary data…) is refused with a ConfigError before any record.
"""

from __future__ import annotations

import io
import os
import select
import stat
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from sentiment_pipeline.dto import DEFAULT_MAX_PAYLOAD_BYTES, Chunk
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.parallel import (
    END,
    BlockPool,
    LineBlock,
    ReaderThread,
    numbered_blocks,
    split_block,
)
from sentiment_pipeline.sources.blocks import parse_block
from sentiment_pipeline.sources.jsonlines import (
    BLANK,
    NUL_ESCAPE,
    SLOW,
    cleaned_line,
    count_lines,
    differing_lines,
    dumps_exact,
    lines_holding,
    loads_exact,
    may_differ,
    parse_cleaned,
    parse_line,
    parse_record_line,
    split_lines,
)
from sentiment_pipeline.sources.sniff import SniffedInput

__all__ = [
    "BLANK",
    "NUL_ESCAPE",
    "SLOW",
    "cleaned_line",
    "count_lines",
    "differing_lines",
    "dumps_exact",
    "lines_holding",
    "loads_exact",
    "may_differ",
    "ndjson_records",
    "parse_cleaned",
    "parse_line",
    "parse_record_line",
    "split_lines",
    "validated_block",
]

_LINES_PER_CHUNK = 2000
_BLOCK_BYTES = 1 << 20  # ~1,400 Reddit-sized lines
_COMPRESSED_READ = 1 << 18  # compressed bytes per read (~1-2 MiB decompressed)


def _open(path: str) -> IO[Any]:
    if path == "-":
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):  # replaced in-process
            return getattr(sys.stdin, "buffer", sys.stdin)
        # A private reader over the descriptor: the reading thread may still be blocked
        # in it at exit, and the interpreter's shutdown must not wait for sys.stdin's lock.
        return io.BufferedReader(io.FileIO(fd, "rb", closefd=False))
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"input file {path!r} does not exist", "give an NDJSON file or - for stdin"
        )
    return file.open("rb")


def _is_regular(handle: IO[Any]) -> bool:
    """True when `handle` reads a regular file (read in whole blocks)."""
    try:
        return stat.S_ISREG(os.fstat(handle.fileno()).st_mode)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def _has_pending_input(handle: IO[Any]) -> bool:
    """True when more input is readable right now (always true for a regular file)."""
    try:
        readable, _, _ = select.select([handle], [], [], 0)
    except (OSError, ValueError, io.UnsupportedOperation):
        return True
    return bool(readable)


def validated_block(max_payload_bytes: int, block: LineBlock) -> list[Any]:
    """A block of a file's lines (`parallel.LineBlock`), parsed and validated, blank
    lines left out: per line a `dto.PlainEvent` (the common case) or what
    `dto.validate_item` gives (`sources.blocks.parse_block`). The job `ndjson_records`
    gives its parsing workers (`parallel.BlockPool` turns plain events into `Validated`
    ones)."""
    first, lines, data = split_block(block)
    return parse_block(first, lines, data, max_payload_bytes)


# What the reading thread hands over without workers: lines, the bytes they were cut
# from (None: lines of text) and how many bytes follow each line there.
_Lines = tuple[list[Any], bytes | None, int]


def _reads(handle: IO[Any], name: str, pool: BlockPool | None) -> Iterator[_Lines | Chunk]:
    """The input's lines, in blocks (the reading thread's items).

    First the input's head is looked at (`sources.sniff`): what is not NDJSON is refused
    (ConfigError), compression is undone. A regular file or a compressed input is read in
    blocks of _BLOCK_BYTES, the lines split off at newlines; with a `pool`, each block
    comes as a `Chunk` of the items it made of them (`validated_block`). From a plain
    pipe, lines come at _LINES_PER_CHUNK or as soon as the pipe has nothing more to
    give, so a slow producer's lines are not held back."""
    regular = _is_regular(handle)
    source = SniffedInput(handle, name, _BLOCK_BYTES, _COMPRESSED_READ).check()
    if not regular and source.compression is None:
        for batch in _line_batches(_pipe_lines(source.plain_head, handle), handle):
            raw = [line for line in batch if isinstance(line, bytes)]
            yield batch, b"".join(raw) if len(raw) == len(batch) else None, 0
    elif pool is None:
        for lines, data in split_lines(source.chunks()):
            yield lines, data, 1
    else:  # lines counted, not split: the workers split them
        for items in pool.map(numbered_blocks(count_lines(source.chunks()))):
            yield Chunk(items)


def _pipe_lines(head: bytes, handle: IO[Any]) -> Iterator[bytes | str]:
    """The lines of a plain pipe (each with its newline): those of the head the sniffer
    read, then the handle's."""
    *whole, partial = head.split(b"\n")
    for line in whole:
        yield line + b"\n"
    if partial:
        rest = handle.readline()
        yield partial + (rest.encode("utf-8", "surrogateescape") if isinstance(rest, str) else rest)
    yield from handle


def _line_batches(lines: Iterable[bytes | str], handle: IO[Any]) -> Iterator[list[bytes | str]]:
    """Lists of `lines`, each at _LINES_PER_CHUNK lines or as soon as the `handle` has
    nothing more to give right now."""
    batch: list[bytes | str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= _LINES_PER_CHUNK or not _has_pending_input(handle):
            yield batch
            batch = []
    if batch:
        yield batch


async def ndjson_records(
    path: str, *, workers: int = 0, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
) -> AsyncIterator[Any]:
    """Yield parsed records, a `pipeline.Chunk` of them per block of lines read; reads
    happen in a thread (`parallel.ReaderThread`) so writing overlaps reading. With
    `workers`, a regular file's lines are parsed and validated (against
    `max_payload_bytes`) in that many worker processes (`parallel.BlockPool`) and come as
    `Validated` / `Rejected` items."""
    handle = _open(path)
    pool = BlockPool(validated_block, max_payload_bytes, workers) if workers else None
    reads = ReaderThread(_reads(handle, path, pool), "sentpipe-ndjson-reader")
    line_number = 0
    try:
        while True:
            got = await reads.get()
            if got is END:
                return
            if isinstance(got, BaseException):
                raise got
            if type(got) is Chunk:  # parsed and validated already
                yield got
                continue
            lines, data, separator = got
            chunk = Chunk(parse_block(line_number + 1, lines, data, separator=separator))
            line_number += len(lines)
            if chunk:
                yield chunk
    finally:
        reads.close()
        if path != "-":
            handle.close()
