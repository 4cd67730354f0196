"""NDJSON source: one JSON object per line, already in RawEventDTO shape.

Feeds the spool, tests and other producers through the same core. A line the parser
refuses (not JSON, NaN/Infinity, an integer past Python's 4,300-digit limit, nesting past
the recursion limit) becomes a `Rejected` record with its line number (dead-lettered),
never a crash.

Parsing is orjson's (several times faster) wherever its result is exactly the standard
`json` module's: `loads_exact` sends the few lines where the two differ (integers past 64
bits, floats under 1e-4, lone surrogates, invalid UTF-8, NaN, refusals) down the standard
path, so every policy and message below is the standard parser's.

A file and the same bytes on standard input give the same records: both are read as
bytes and each line is decoded as UTF-8 with `surrogateescape`, so an undecodable byte
becomes a lone surrogate, which validation replaces with U+FFFD and counts as sanitized
(docs/data-quality.md). The input's head is looked at first (`sources.sniff`): zstd,
gzip, bzip2 and xz are decompressed, and what is not one JSON object per line (HTML, a
JSON array, an archive, binary data…) is refused with a ConfigError before any record.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import json
import os
import re
import select
import stat
import sys
import threading
from bisect import bisect_right
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from itertools import accumulate
from pathlib import Path
from typing import IO, Any

import orjson

from sentiment_pipeline.dto import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    MAX_DEPTH,
    Chunk,
    Parsed,
    Rejected,
    dumps_exact,
    validate_cleaned,
    validate_item,
    validate_parsed,
)
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.parallel import BlockPool, LineBlock, numbered_blocks, split_block
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
BLANK = object()  # parse_line's answer for an empty line
SLOW = object()  # loads_exact's answer when only the standard parser gives the right value
# Where orjson's value or its re-serialisation differs from the json module's: integers
# past 64 bits (orjson reads them as floats) and floats under 1e-4 (printed without
# exponent). `_ORJSON_DIFFERS` is the definition; `may_differ` is the same test by
# substring searches (C speed: the regex costs ~4x orjson's parse of the line), two of
# them over the bytes' "number shape" (digits -> "0", e/E -> "e", "-" kept, every other
# byte a space), which is sparse, so its searches are quick.
_ORJSON_DIFFERS = re.compile(rb"[0-9]{19}|0\.0000|[0-9][eE]-")
_NUMBER_SHAPE = bytes(
    48 if 48 <= b <= 57 else 101 if b in (69, 101) else 45 if b == 45 else 32 for b in range(256)
)
_NINETEEN_DIGITS = b"0" * 19


_RAW_NEEDLE = b"0.0000"  # searched in the bytes themselves
NUL_ESCAPE = b"\\u0000"  # JSON's only way to write U+0000, which validation replaces
_SHAPE_NEEDLES = (_NINETEEN_DIGITS, b"0e-")  # searched in their number shape


def may_differ(data: bytes) -> bool:
    """True when `_ORJSON_DIFFERS` matches somewhere in `data` (one line, or many lines
    at once: no pattern spans a newline). Exactly the regex's answer, several times faster."""
    if _RAW_NEEDLE in data:
        return True
    shape = data.translate(_NUMBER_SHAPE)
    return any(needle in shape for needle in _SHAPE_NEEDLES)


def differing_lines(lines: Sequence[bytes], data: bytes, separator: int) -> set[int]:
    """Indices of the `lines` where `may_differ` is true, from one pass over `data`: the
    lines in order, each followed by `separator` bytes (0 for lines that keep their
    newline, 1 for lines split off at it); bytes after the last line are ignored."""
    found: list[int] = []
    shape = data.translate(_NUMBER_SHAPE)
    searches = ((data, _RAW_NEEDLE), *((shape, needle) for needle in _SHAPE_NEEDLES))
    for haystack, needle in searches:
        _find_all(haystack, needle, found)
    return _lines_at(lines, separator, found)


def lines_holding(lines: Sequence[bytes], data: bytes, separator: int, needle: bytes) -> set[int]:
    """Indices of the `lines` (laid out in `data` as for `differing_lines`) that hold
    `needle`, from one search of `data`."""
    found: list[int] = []
    _find_all(data, needle, found)
    return _lines_at(lines, separator, found)


def _find_all(haystack: bytes, needle: bytes, found: list[int]) -> None:
    at = haystack.find(needle)
    while at >= 0:
        found.append(at)
        at = haystack.find(needle, at + len(needle))


def _lines_at(lines: Sequence[bytes], separator: int, positions: list[int]) -> set[int]:
    """The indices of the lines the byte `positions` fall in."""
    if not positions:
        return set()
    starts = list(accumulate((len(line) + separator for line in lines), initial=0))
    return {index for at in positions if (index := bisect_right(starts, at) - 1) < len(lines)}


def loads_exact(line: bytes, checked: bool = False) -> Any:
    """The value `json.loads` would give for `line`, parsed by orjson, or `SLOW` when the
    line needs the standard parser (see the module docstring). `checked`: the caller knows
    `may_differ` is false for this line (it tested a whole chunk). A value from here can
    be serialised with `dumps_exact`."""
    if not checked and may_differ(line):
        return SLOW
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return SLOW


# `cleaned_line`: an escape is a backslash and the character after it, matched from the
# left (so the escaped backslash of `\\u0000` is not read as an escape of U+0000); the
# `u` escape of a surrogate pair stays (group 1), that of a lone surrogate or of U+0000
# becomes the escape of U+FFFD (group 2), any other escape stays.
_ESCAPES = re.compile(
    rb"\\(?:(u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(u[dD][89a-fA-F][0-9a-fA-F]{2}|u0000)|.)",
    re.DOTALL,
)
_FFFD_ESCAPE = b"\\ufffd"
_FFFD = "\ufffd".encode()
_FFFD_PER_BYTE = "sentpipe-fffd-per-byte"


def _fffd_per_byte(error: UnicodeError) -> tuple[str, int]:
    """A decoding error handler: U+FFFD for each undecodable byte (as `surrogateescape`
    and then `dto.clean_text` give; Python's own "replace" gives one per sequence)."""
    assert isinstance(error, UnicodeDecodeError)
    return "\ufffd" * (error.end - error.start), error.end


codecs.register_error(_FFFD_PER_BYTE, _fffd_per_byte)


def _escape_cleaned(match: re.Match[bytes]) -> bytes:
    return _FFFD_ESCAPE if match.group(2) else match.group(0)


def cleaned_line(line: bytes) -> bytes | None:
    """`line` with what validation replaces by U+FFFD (`dto.clean_text`) replaced in its
    JSON text: each undecodable byte (which the standard path decodes with
    `surrogateescape`, one surrogate a byte), each escape of a lone surrogate and each
    escape of U+0000; None when there is nothing to replace. Parsing the result gives
    what parsing `line` the standard way and cleaning the value gives, unless cleaning
    made two keys of one object equal (validation refuses that record): see
    `parse_cleaned`."""
    fixed = line
    try:
        line.decode()
    except UnicodeDecodeError:
        fixed = line.decode("utf-8", _FFFD_PER_BYTE).encode()
    if b"\\u" in fixed and (NUL_ESCAPE in fixed or b"\\ud" in fixed or b"\\uD" in fixed):
        fixed = _ESCAPES.sub(_escape_cleaned, fixed)
    return None if fixed == line else fixed


def parse_cleaned(line: bytes) -> tuple[Any, bytes] | None:
    """`(value, text)`: the value of `cleaned_line(line)` by orjson, the record
    validation would make of `line` once cleaned (every string, keys included), and its
    text (`dumps_exact`), for a line that is not `may_differ`; ~15 µs for a Reddit
    object, where the standard path takes ~60. None (the standard path decides) when
    nothing needs cleaning, orjson refuses the cleaned line, a key holds U+FFFD
    (cleaning may have merged two keys), or a U+FFFD of the text is not in the value (a
    repeated key dropped it: the record may not count as sanitized)."""
    fixed = cleaned_line(line)
    if fixed is None:
        return None
    try:
        value = orjson.loads(fixed)
    except orjson.JSONDecodeError:
        return None
    text = dumps_exact(value)
    if text is None or _fffd_in_keys(value):
        return None
    # orjson writes U+FFFD as UTF-8; the text may hold it so or escaped, in any case.
    if text.count(_FFFD) != fixed.count(_FFFD) + fixed.lower().count(_FFFD_ESCAPE):
        return None
    return value, text


def _fffd_in_keys(value: Any) -> bool:
    """True when an object in `value` (itself included) has a key holding U+FFFD."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            for key, inner in item.items():
                if "\ufffd" in key:
                    return True
                if type(inner) is dict or type(inner) is list:
                    stack.append(inner)
        elif type(item) is list:
            stack.extend(inner for inner in item if type(inner) is dict or type(inner) is list)
    return False


def count_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """`(count, data)` for a stream of byte chunks: `data` starts with the `count` lines
    completed in its chunk, each ended by b"\\n", and may hold the start of the next
    line too; last, `(1, line)` for a final line that has no newline. A line is never
    cut, whatever the chunk edges; nothing is split (`split_lines` does that)."""
    tail = b""
    for chunk in chunks:
        data = tail + chunk if tail else chunk
        del chunk  # one chunk alive at a time: the allocator reuses its memory
        count = data.count(b"\n")
        if count:
            tail = data[data.rfind(b"\n") + 1 :]
            yield count, data
        else:
            tail = data
    if tail:
        yield 1, tail


def split_lines(chunks: Iterable[bytes]) -> Iterator[tuple[list[bytes], bytes]]:
    """`(lines, data)` for a stream of byte chunks: `count_lines`, with the lines split
    off (without their newline)."""
    for count, data in count_lines(chunks):
        yield data.split(b"\n", count)[:count], data


def parse_record_line(line: bytes | str, line_number: int, checked: bool = False) -> Any:
    """A line in event shape as a `Parsed` record (fast path), or `parse_line`'s answer.
    `checked`: as for `loads_exact`."""
    value = loads_exact(line, checked) if isinstance(line, bytes) else SLOW
    if value is SLOW:
        return parse_line(line, line_number)
    if type(value) is dict:
        payload = value.get("payload")
        if type(payload) is dict:
            payload_json = dumps_exact(payload)
            if payload_json is not None:
                return Parsed(value, payload_json)
    return value


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


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (no backend stores it)")


def parse_line(line: bytes | str, line_number: int) -> Any:
    """One NDJSON line as a parsed value, `BLANK` for an empty line, or a `Rejected`."""
    text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
    if line_number == 1:
        text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark
    text = text.strip()
    if not text:
        return BLANK
    kept = {"line": line_number, "text": text[:10_000]}
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        return Rejected(kept, f"line {line_number}: not JSON ({error.msg})")
    except RecursionError:
        return Rejected(kept, f"line {line_number}: nested deeper than {MAX_DEPTH} levels")
    except ValueError as error:  # e.g. an integer over 4,300 digits, NaN
        reason = str(error).split(";")[0]
        return Rejected(kept, f"line {line_number}: not storable JSON ({reason})")


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
    `dto.validate_item` gives (`dto.validate_parsed`). The job `ndjson_records` gives
    its parsing workers (`parallel.BlockPool` turns plain events into `Validated` ones):
    `parse_record_line` then `validate_item` for each line, with the common case
    inline."""
    first, lines, data = split_block(block)
    slow = differing_lines(lines, data, 1)
    nul = lines_holding(lines, data, 1, NUL_ESCAPE)
    out: list[Any] = []
    append = out.append
    for index, line in enumerate(lines):
        value: Any = SLOW
        if index not in slow:
            # What validation would clean (a NUL escape; orjson refuses a lone surrogate
            # or an undecodable byte) is cleaned in the text first, if that is exact.
            if index in nul and _sanitized(out, line, max_payload_bytes):
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                if _sanitized(out, line, max_payload_bytes):
                    continue
        if value is SLOW:
            parsed = parse_line(line, first + index)
            if parsed is not BLANK:
                append(validate_item(parsed, max_payload_bytes))
            continue
        payload = value.get("payload") if type(value) is dict else None
        text = dumps_exact(payload) if type(payload) is dict else None
        if text is None:
            append(validate_item(value, max_payload_bytes))
            continue
        append(validate_parsed(value, text, max_payload_bytes, nul_free=index not in nul))
    return out


def _sanitized(out: list[Any], line: bytes, max_payload_bytes: int) -> bool:
    """Append the line's event, sanitized, to `out` and return True when it is a plain
    one once cleaned in the text (`parse_cleaned`, a fraction of the standard path's
    cost); False (nothing appended) leaves the line to the standard path."""
    cleaned = parse_cleaned(line)
    if cleaned is None or type(value := cleaned[0]) is not dict:
        return False
    payload = value.get("payload")
    text = dumps_exact(payload) if type(payload) is dict else None
    event = None if text is None else validate_cleaned(value, text, max_payload_bytes)
    if event is None:
        return False
    out.append(event)
    return True


def _start_reader(
    handle: IO[Any], loop: asyncio.AbstractEventLoop, name: str, pool: BlockPool | None = None
) -> asyncio.Queue[Any]:
    """Read lines in a daemon thread and hand them over in chunks.

    First the input's head is looked at (`sources.sniff`): what is not NDJSON is refused
    (ConfigError), compression is undone. A regular file or a compressed input is read in
    blocks of _BLOCK_BYTES, each handed over as `(lines, data)`: the lines split off at
    newlines, and the bytes they came from; with a `pool`, as a `Chunk` of the items it
    made of them (`validated_block`). From a plain pipe, a list of lines goes out at
    _LINES_PER_CHUNK lines or as soon as the pipe has nothing more to give, so a slow
    producer's lines are not held back. The bounded queue gives back-pressure; a daemon
    thread never keeps the process alive on a stop signal.
    """
    chunks: asyncio.Queue[Any] = asyncio.Queue(maxsize=3)  # ~1,400 lines each
    try:
        regular = stat.S_ISREG(os.fstat(handle.fileno()).st_mode)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        regular = False

    def put(item: Any) -> None:
        asyncio.run_coroutine_threadsafe(chunks.put(item), loop).result()

    def work() -> None:
        try:
            source = SniffedInput(handle, name, _BLOCK_BYTES, _COMPRESSED_READ).check()
            if regular or source.compression is not None:  # whole blocks: no per-line reads
                _put_blocks(source.chunks(), pool, put)
            else:
                _put_lines(_pipe_lines(source.plain_head, handle), handle, put)
            put(None)
        except RuntimeError:  # the event loop is gone: nothing is waiting any more
            return
        except BaseException as error:
            put(error)

    threading.Thread(target=work, name="sentpipe-ndjson-reader", daemon=True).start()
    return chunks


def _put_blocks(reads: Iterator[bytes], pool: BlockPool | None, put: Callable[[Any], None]) -> None:
    """Blocks of an input read in chunks: `(lines, data)`, or with a `pool` a `Chunk` of
    validated items (lines counted, not split: the workers split them)."""
    if pool is None:
        for block in split_lines(reads):
            put(block)
        return
    for items in pool.map(numbered_blocks(count_lines(reads))):
        put(Chunk(items))


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


def _put_lines(lines: Iterable[bytes | str], handle: IO[Any], put: Callable[[Any], None]) -> None:
    """Lists of `lines`, each handed over at _LINES_PER_CHUNK lines or as soon as the
    `handle` has nothing more to give right now."""
    batch: list[bytes | str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= _LINES_PER_CHUNK or not _has_pending_input(handle):
            put(batch)
            batch = []
    if batch:
        put(batch)


async def ndjson_records(
    path: str, *, workers: int = 0, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
) -> AsyncIterator[Any]:
    """Yield parsed records, a `pipeline.Chunk` of them per block of lines read; reads
    happen off the event loop so writing overlaps reading. With `workers`, a regular
    file's lines are parsed and validated (against `max_payload_bytes`) in that many
    worker processes (`parallel.BlockPool`) and come as `Validated` / `Rejected` items."""
    handle = _open(path)
    pool = BlockPool(validated_block, max_payload_bytes, workers) if workers else None
    chunks = _start_reader(handle, asyncio.get_running_loop(), path, pool)
    line_number = 0
    try:
        while True:
            lines = await chunks.get()
            if lines is None:
                return
            if isinstance(lines, BaseException):
                raise lines
            if type(lines) is Chunk:  # parsed and validated already
                yield lines
                continue
            chunk = Chunk()
            # One test of the whole block for the lines orjson would read differently.
            if type(lines) is tuple:
                lines, data = lines
                slow: set[int] | None = differing_lines(lines, data, 1)
            elif all(type(line) is bytes for line in lines):
                slow = differing_lines(lines, b"".join(lines), 0)
            else:
                slow = None
            for index, line in enumerate(lines):
                line_number += 1
                checked = slow is not None and index not in slow
                parsed = parse_record_line(line, line_number, checked)
                if parsed is not BLANK:
                    chunk.append(parsed)
            if chunk:
                yield chunk
    finally:
        if path != "-":
            handle.close()
