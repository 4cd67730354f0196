"""Know what an input is before reading it: one look at its first bytes.

Both file sources (`ingest ndjson`, `ingest reddit-dump`) open their input through
`SniffedInput`: it reads the head (up to 64 KiB; from a pipe only what is there once the
first line is whole), undoes zstd, gzip, bzip2 or xz compression found by magic bytes
(`sources.decode`), whatever the file's name, and looks at the (decompressed) text. What
is not one JSON object per line is refused before anything is written, with a
`ConfigError` (exit 2) that names the file, what it is, and what to do: an archive (zip,
7z, tar, RAR), a PDF or an image, other binary data, UTF-16/32 text, an HTML page (a
failed download's error page), a JSON array, a pretty-printed JSON object, and text
whose first line is not a JSON object. A first line that is broken JSON but no sign of
another format is a bad record (a dead letter), not a wrong file. An empty input is
not refused: there is nothing to do.

The look happens once, on the head: the lines after it are read as before, at the same
speed. `no_valid_record` is the check after a run: dead letters and no valid record.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import IO, Any

import orjson

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sources.decode import (
    CompressedInputError,
    Compression,
    compression_of,
    decompressed,
)

__all__ = ["HEAD_BYTES", "Refusal", "SniffedInput", "classify", "no_valid_record"]

HEAD_BYTES = 1 << 16
_WHITESPACE = b" \t\r\n"
_UTF8_BOM = b"\xef\xbb\xbf"
# Control characters: JSON text holds none of them raw (in a string they are escaped);
# over 1% of a head is binary data (random bytes hold ~10%).
_CONTROL = bytes([*range(9), 11, *range(14, 32)])
_GIVE = "give NDJSON (one JSON object per line), plain or compressed with zstd, gzip, bzip2 or xz"
_EXTRACT = "extract it first (`{tool} {file}`) and give the file inside"
# (magic, offset, what it is, hint): formats that are never NDJSON.
_FORMATS: tuple[tuple[bytes, int, str, str], ...] = (
    (b"PK\x03\x04", 0, "a zip archive", _EXTRACT.format(tool="unzip", file="{file}")),
    (b"PK\x05\x06", 0, "an empty zip archive", _GIVE),
    (b"PK\x07\x08", 0, "a zip archive", _EXTRACT.format(tool="unzip", file="{file}")),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7z archive", _EXTRACT.format(tool="7z x", file="{file}")),
    (b"Rar!\x1a\x07", 0, "a RAR archive", _EXTRACT.format(tool="unrar x", file="{file}")),
    (b"ustar", 257, "a tar archive", _EXTRACT.format(tool="tar -xf", file="{file}")),
    (b"\x04\x22\x4d\x18", 0, "lz4 data", "decompress it first (`lz4 -d {file}`)"),
    (b"%PDF-", 0, "a PDF document", _GIVE),
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image", _GIVE),
    (b"\xff\xd8\xff", 0, "a JPEG image", _GIVE),
    (b"GIF8", 0, "a GIF image", _GIVE),
    (b"SQLite format 3\x00", 0, "an SQLite database", _GIVE),
    (b"PAR1", 0, "a Parquet file", _GIVE),
)
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 text"),
    (b"\x00\x00\xfe\xff", "UTF-32 text"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
)
_RECODE = "convert it to UTF-8 (`iconv -f {encoding} -t UTF-8 {file} > converted.ndjson`)"
_ERROR_PAGE = "a failed download saves its error page under the file's name: download it again"
_CONVERT = "convert it to one object per line (`{jq} {file} > converted.ndjson`)"


@dataclass(frozen=True)
class Refusal:
    """Why a head is not NDJSON: `what` the input is ("an HTML page"), and a `hint`
    (with `{file}` where the file's name goes)."""

    what: str
    hint: str


def classify(head: bytes, ended: bool) -> Refusal | None:
    """None when `head` (an input's first bytes, decompressed; `ended`: the whole input)
    may be one JSON object per line, else what it is instead."""
    for magic, offset, what, hint in _FORMATS:
        if head[offset : offset + len(magic)] == magic:
            return Refusal(what, hint)
    if head and not head.strip(b"\0"):
        return Refusal("only zero bytes (an unfinished download?)", "let it finish, then run again")
    inner = compression_of(head)
    if inner is not None:
        return Refusal(f"{inner} data", "decompress it until it is NDJSON, then give that file")
    wide = _wide_text(head)
    if wide is not None:
        encoding = wide.split()[0]
        return Refusal(wide, _RECODE.format(encoding=encoding, file="{file}"))
    if head and len(head) - len(head.translate(None, _CONTROL)) > len(head) // 100:
        return Refusal("binary data", _GIVE)
    text = head.removeprefix(_UTF8_BOM).lstrip(_WHITESPACE)
    if not text:
        return None  # empty (or blank): nothing to do
    return _text_refusal(text, ended)


def _wide_text(head: bytes) -> str | None:
    """ "UTF-16 text" / "UTF-32 text" from a byte-order mark, or from every other byte
    being zero at the start (UTF-16 without a mark)."""
    for bom, what in _WIDE_BOMS:
        if head.startswith(bom):
            return what
    even, odd = head[:64:2], head[1:64:2]
    if len(odd) < 2:
        return None
    if not any(odd) and all(even):
        return "UTF-16LE text"
    if not any(even) and all(odd):
        return "UTF-16BE text"
    return None


def _text_refusal(text: bytes, ended: bool) -> Refusal | None:
    """What text that starts with `text[0]` (not blank) is, when not NDJSON."""
    first = text[:1]
    if first == b"{":
        return _object_refusal(text, ended)
    if first == b"[":
        return Refusal("a JSON array", _CONVERT.format(jq="jq -c '.[]'", file="{file}"))
    if first == b"<":
        return Refusal(_markup(text), _ERROR_PAGE)
    line = text.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    return Refusal(f"text that is not JSON (its first line: {line[:40]!r})", _GIVE)


def _markup(text: bytes) -> str:
    start = text[:2048].lower()
    if any(tag in start for tag in (b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if start.startswith(b"<?xml"):
        return "an XML document"
    return "HTML or XML markup"


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            json.loads(line.decode("utf-8", "surrogateescape"))
        except (ValueError, RecursionError):
            return False
    return True


def _object_refusal(text: bytes, ended: bool) -> Refusal | None:
    """A pretty-printed JSON object (one object over many lines), else None: the first
    line is JSON, too long to tell, or a broken record among good ones."""
    line, newline, rest = text.partition(b"\n")
    if (not newline and not ended) or _is_json(line):
        return None
    pretty = Refusal(
        "a pretty-printed JSON object (one object over many lines)",
        _CONVERT.format(jq="jq -c .", file="{file}"),
    )
    if line.strip() == b"{":
        return pretty
    try:
        _, end = json.JSONDecoder().raw_decode(text.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        pass
    else:
        return pretty if "\n" in text[:end].decode("utf-8", "surrogateescape") else None
    opened = line.rstrip().endswith((b"{", b"[", b","))
    return pretty if opened and rest[:1] in (b" ", b"\t", b'"', b"}") else None


def _settled(head: bytes) -> bool:
    """True when the head already shows NDJSON: a whole first line that is a JSON object
    (a pipe's reader need not wait for more)."""
    text = head.removeprefix(_UTF8_BOM).lstrip(_WHITESPACE)
    line, newline, _ = text.partition(b"\n")
    return bool(newline) and line[:1] == b"{" and _is_json(line)


class SniffedInput:
    """An opened binary input (`handle`, named `name`: a path, or `-`), its head read
    and looked at: `compression` (None: plain), `refusal` (None: NDJSON, or empty),
    `empty` (no byte but blanks). `check()` raises the refusal; `chunks()` gives the
    decoded bytes from the very start. Plain input is read `chunk_size` bytes at a time,
    compressed input `read_size` bytes (of compressed data) at a time."""

    def __init__(self, handle: IO[Any], name: str, chunk_size: int, read_size: int) -> None:
        self.name = name
        self._handle = handle
        self._chunk_size = chunk_size
        self._read_size = read_size
        self._pieces, ended = self._read_head()
        raw = b"".join(self._pieces)
        self.compression: Compression | None = compression_of(raw)
        self._decoded: list[bytes] = []
        self._rest: Iterator[bytes] = iter(())
        self._error: CompressedInputError | None = None
        if self.compression is not None:
            ended = self._decode_head()
            raw = b"".join(self._decoded)[:HEAD_BYTES]
        self.refusal = classify(raw, ended)
        self.empty = ended and not raw.removeprefix(_UTF8_BOM).strip(_WHITESPACE)

    @property
    def plain_head(self) -> bytes:
        """The bytes read so far of a plain input (its `chunks()` start with them)."""
        return b"".join(self._pieces)

    def _read(self, size: int) -> bytes:
        data = self._handle.read(size)
        return data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data

    def _read_head(self) -> tuple[list[bytes], bool]:
        """The first pieces read (up to HEAD_BYTES; from a pipe, only what is there once
        the first line is a whole JSON object), and whether the input ended."""
        read1 = getattr(self._handle, "read1", self._handle.read)
        pieces: list[bytes] = []
        head = b""
        while len(head) < HEAD_BYTES:
            piece = read1(min(self._chunk_size, HEAD_BYTES - len(head)))
            if isinstance(piece, str):
                piece = piece.encode("utf-8", "surrogateescape")
            if not piece:
                return pieces, True
            pieces.append(piece)
            head += piece
            if b"\n" in piece and _settled(head):
                break
        return pieces, False

    def _compressed(self) -> Iterator[bytes]:
        return chain(self._pieces, iter(lambda: self._read(self._read_size), b""))

    def _decode_head(self) -> bool:
        """Decode until HEAD_BYTES are out (kept for `chunks()`); True when the input
        ended meanwhile. A cut-off or corrupt input's error waits for `chunks()`."""
        assert self.compression is not None
        self._rest = decompressed(self.compression, self._compressed(), self.label)
        size = 0
        try:
            for out in self._rest:
                self._decoded.append(out)
                size += len(out)
                if size >= HEAD_BYTES:
                    return False
        except CompressedInputError as error:
            self._error = error
            return False
        return True

    @property
    def label(self) -> str:
        """The input in messages: its path, or "standard input"."""
        return "standard input" if self.name == "-" else self.name

    def check(self) -> SniffedInput:
        """Raise ConfigError (exit 2) when the input is not NDJSON; else return self."""
        if self.refusal is None:
            return self
        what = self.refusal.what
        if self.compression is not None:
            what += f" ({self.compression}-compressed)"
        file = "FILE" if self.name == "-" else shlex.quote(self.name)
        raise ConfigError(
            f"{self.label} is {what}, not NDJSON (one JSON object per line)",
            self.refusal.hint.format(file=file),
        )

    def chunks(self) -> Iterator[bytes]:
        """The decoded input from its first byte: the head, then the rest. Raises
        `CompressedInputError` after the last byte a cut-off or corrupt input gives."""
        if self.compression is None:
            yield from self._pieces
            self._pieces = []
            size = self._chunk_size
            while chunk := self._read(size):
                yield chunk
            return
        decoded, self._decoded = self._decoded, []
        while decoded:
            yield decoded.pop(0)
        if self._error is not None:
            raise self._error
        yield from self._rest


def no_valid_record(name: str, valid: int, invalid: int, expected: str) -> str | None:
    """The error of a run that read its whole input and found no valid record, only
    dead letters (None otherwise): the input is likely not what the command reads
    (`expected`: "a Reddit dump")."""
    if valid or not invalid:
        return None
    return f"{name}: no line was a valid record ({invalid:,} dead-lettered): is it {expected}?"
