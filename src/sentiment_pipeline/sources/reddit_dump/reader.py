"""Read a dump file as numbered lines of bytes: zstd, gzip, bzip2, xz or plain NDJSON.

What the input is comes from its first bytes, not its name (`sources.sniff`): the four
compressions are undone (`sources.decode`), and `check()` refuses what is not one JSON
object per line (an HTML page, a JSON array, an archive, binary data…) before anything
is read past the head. Pushshift and Arctic Shift compress with `zstd --long=31`, whose
2 GiB window makes decoders with default limits fail ("Frame requires too much memory");
the decoder here allows it. The window is the only memory that grows with the file's
compression settings; lines are handed out one at a time, so memory stays flat in the
file's size.

Lines are split as **bytes** (the decoder's chunks end anywhere, even inside a multi-byte
character) and decoded by whoever parses them. A last line without a newline (a cut-off
download) is still given out; truncated compressed data ends the input with
`DumpReadError` after every complete line.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import IO, Any

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.parallel import numbered_blocks
from sentiment_pipeline.sources.decode import MAX_WINDOW, ZSTD_MAGIC, CompressedInputError
from sentiment_pipeline.sources.jsonlines import count_lines
from sentiment_pipeline.sources.sniff import SniffedInput

__all__ = ["MAX_WINDOW", "ZSTD_MAGIC", "DumpReadError", "DumpReader"]

READ_SIZE = 1 << 18  # compressed bytes per read (~1-2 MiB decompressed)
CHUNK_SIZE = 4 << 20  # bytes per read of an uncompressed file

# The input ended inside a compressed frame, or its compressed data is corrupt.
DumpReadError = CompressedInputError


class _CountingReader(io.RawIOBase):
    """A raw reader that counts the bytes read through it (progress by compressed bytes,
    which works for standard input too)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.handle.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.count += size
        return size


def _after_lines(chunks: Iterator[bytes], skip: int) -> Iterator[bytes]:
    """The byte stream without its first `skip` lines, which are counted, never split."""
    for chunk in chunks:
        if skip:
            newlines = chunk.count(b"\n")
            if newlines < skip:
                skip -= newlines
                continue
            position = 0
            for _ in range(skip):
                position = chunk.index(b"\n", position) + 1
            skip = 0
            chunk = chunk[position:]
        yield chunk


class DumpReader:
    """Numbered lines (`(line_number, bytes)`, 1-based, without the newline) of one input.

    `path` is a file or `-` (standard input). `size` is the file's size in bytes (None for
    standard input); `bytes_read` how much of it has been read so far. Raises ConfigError
    when the file does not exist.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        if path == "-":
            self._handle: IO[bytes] = getattr(sys.stdin, "buffer", None) or sys.stdin  # type: ignore[assignment]
            self.size: int | None = None
        else:
            file = Path(path)
            if not file.is_file():
                raise ConfigError(
                    f"dump file {path!r} does not exist",
                    "give dump files (.zst, .bz2, .xz, .gz, .ndjson, .jsonl), or - for stdin",
                )
            self._handle = file.open("rb")
            self.size = file.stat().st_size
        self._counter = _CountingReader(self._handle)
        self._buffered = io.BufferedReader(self._counter, READ_SIZE)
        self._input: SniffedInput | None = None

    @property
    def bytes_read(self) -> int:
        return self._counter.count

    @property
    def label(self) -> str:
        """The input's name in dead letters: the file's name, or `stdin`."""
        return PurePath(self.path).name if self.path != "-" else "stdin"

    def close(self) -> None:
        if self.path != "-":
            self._handle.close()

    def __enter__(self) -> DumpReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def sniff(self) -> SniffedInput:
        """The input's head, read and looked at once (`sources.sniff.SniffedInput`)."""
        if self._input is None:
            self._input = SniffedInput(self._buffered, self.path, CHUNK_SIZE, READ_SIZE)
        return self._input

    def check(self) -> SniffedInput:
        """Raise ConfigError (exit 2) unless the input is NDJSON, plain or compressed (an
        empty input is); its `SniffedInput` otherwise."""
        return self.sniff().check()

    def _chunks(self) -> Iterator[bytes]:
        return self.sniff().chunks()

    def lines(self, skip: int = 0) -> Iterator[tuple[int, bytes]]:
        """Every line after the first `skip`, which are counted but never split out or
        parsed (resuming a file costs only the decoding)."""
        for first, lines, _ in self.blocks(skip):
            yield from enumerate(lines, start=first)

    def blocks(self, skip: int = 0) -> Iterator[tuple[int, list[bytes], bytes]]:
        """`lines()` a decoded chunk at a time: `(number of the first line, lines, data)`,
        where `data` holds at least those lines (for whole-chunk tests such as
        `sources.jsonlines.differing_lines`; it may hold part of the next line too)."""
        for first, count, data in self.counted_blocks(skip):
            yield first, data.split(b"\n", count)[:count], data

    def counted_blocks(self, skip: int = 0) -> Iterator[tuple[int, int, bytes]]:
        """`blocks()` with the number of lines instead of the lines (`parallel.LineBlock`:
        nothing is split where only a worker process needs the lines)."""
        chunks = _after_lines(self._chunks(), skip) if skip else self._chunks()
        return numbered_blocks(count_lines(chunks), skip + 1)
