"""`sources.sniff` and `sources.decode`: what an input is, from its first bytes.

Properties: NDJSON in any of the five forms (plain, zstd, gzip, bzip2, xz; one frame or
many; any read size) is accepted and reads back byte for byte; JSON arrays and
pretty-printed objects are always refused; no byte string makes the classifier raise;
random binary is refused. A cut-off input gives every byte before the cut, then
`CompressedInputError`.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import random
import struct
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.errors import ConfigError, ExitCode
from sentiment_pipeline.sources.decode import CompressedInputError, compression_of
from sentiment_pipeline.sources.sniff import HEAD_BYTES, SniffedInput, classify, no_valid_record


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "plain": lambda data: data,
    "zstd": _zstd,
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}
SKIPPABLE = struct.pack("<II", 0x184D2A50, 4) + b"pzst"  # what `pzstd` starts a file with


def sniffed(data: bytes, chunk_size: int = 1 << 20, read_size: int = 1 << 18) -> SniffedInput:
    return SniffedInput(io.BytesIO(data), "in.ndjson", chunk_size, read_size)


def pack(compression: str, content: bytes, cuts: list[int]) -> bytes:
    """`content` compressed as one frame per piece between `cuts` (gzip members, bzip2
    and xz streams, zstd frames; xz and gzip with zero padding between them)."""
    edges = sorted({0, len(content), *(cut % (len(content) + 1) for cut in cuts)})
    pieces = [content[a:b] for a, b in pairwise(edges)] or [b""]
    if compression == "plain":
        return content
    padding = b"\0" * 4 if compression in ("gzip", "xz") else b""
    return padding.join(COMPRESSORS[compression](piece) for piece in pieces)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(objects, min_size=1, max_size=20),
    st.sampled_from(sorted(COMPRESSORS)),
    st.lists(st.integers(0, 10_000), max_size=3),
    st.booleans(),
    st.sampled_from([b"\n", b"\r\n"]),
    st.integers(0, 3),
    st.integers(1, 64),
)
def test_ndjson_in_any_form_and_any_pieces_reads_back_exactly(
    rows: list[dict[str, Any]],
    compression: str,
    cuts: list[int],
    bom: bool,
    newline: bytes,
    blank_lines: int,
    chunk_size: int,
) -> None:
    content = (b"\xef\xbb\xbf" if bom else b"") + newline * blank_lines
    content += b"".join(json.dumps(row, ensure_ascii=False).encode() + newline for row in rows)
    data = pack(compression, content, cuts)
    source = sniffed(data, chunk_size, chunk_size)
    assert source.refusal is None
    assert source.compression == (None if compression == "plain" else compression)
    assert not source.empty
    assert b"".join(source.chunks()) == content
    assert source.check() is source


def test_a_zstd_file_may_start_with_a_skippable_frame() -> None:
    content = b'{"a": 1}\n{"b": 2}\n'
    source = sniffed(SKIPPABLE + _zstd(content[:9]) + _zstd(content[9:]))
    assert source.compression == "zstd"
    assert b"".join(source.chunks()) == content


@settings(max_examples=100, deadline=None)
@given(st.lists(json_values, max_size=6), st.sampled_from([None, 1, 2, 4]), st.integers(0, 3))
def test_a_json_array_is_always_refused(
    items: list[Any], indent: int | None, leading_blanks: int
) -> None:
    data = b" \n" * leading_blanks + json.dumps(items, indent=indent).encode()
    refusal = sniffed(data).refusal
    assert refusal is not None and refusal.what == "a JSON array"
    assert "jq -c '.[]'" in refusal.hint


@settings(max_examples=100, deadline=None)
@given(objects.filter(bool), st.sampled_from([1, 2, 4, "\t"]), st.integers(1, 3))
def test_a_pretty_printed_object_is_always_refused(
    value: dict[str, Any], indent: int | str, copies: int
) -> None:
    data = "\n".join(json.dumps(value, indent=indent) for _ in range(copies)).encode()
    refusal = sniffed(data).refusal
    assert refusal is not None and refusal.what.startswith("a pretty-printed JSON object")
    assert "jq -c ." in refusal.hint


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.booleans())
def test_no_bytes_make_the_classifier_raise(head: bytes, ended: bool) -> None:
    refusal = classify(head, ended)
    assert refusal is None or (refusal.what and refusal.hint)


@pytest.mark.parametrize("size", [64, 1_000, HEAD_BYTES * 3])
def test_random_binary_is_refused(size: int) -> None:
    for seed in range(200):
        data = random.Random(seed).randbytes(size)
        assert compression_of(data) is None
        refusal = sniffed(data).refusal
        assert refusal is not None, seed
        assert refusal.what in ("binary data", "a JPEG image") or refusal.what.startswith(
            "text that is not JSON"
        ), (seed, refusal)


def test_a_broken_first_record_is_a_bad_line_not_a_wrong_file() -> None:
    good = b'{"id": "a", "body": "x"}\n'
    for first in (b'{"id": "cut', b'{"id": 1,}', b"{'single': 'quotes'}", b'{"a": 1} trailing'):
        assert sniffed(first + b"\n" + good * 3).refusal is None, first
    # A first line longer than the head cannot be judged: it is read as a line.
    assert sniffed(b'{"long": "' + b"x" * HEAD_BYTES + b'"}\n').refusal is None


@pytest.mark.parametrize(
    ("data", "empty"),
    [(b"", True), (b"\n\n \r\n\t", True), (b"\xef\xbb\xbf\n", True), (b"{}\n", False)],
)
def test_empty_input_is_not_refused(data: bytes, empty: bool) -> None:
    for compression in ("plain", "gzip", "xz", "bzip2", "zstd"):
        source = sniffed(COMPRESSORS[compression](data))
        assert source.refusal is None
        assert source.empty is empty
        assert b"".join(source.chunks()) == data


@pytest.mark.parametrize("compression", ["zstd", "gzip", "bzip2", "xz"])
@pytest.mark.parametrize("read_size", [7, 1 << 18])
def test_a_cut_off_input_gives_every_byte_then_fails(compression: str, read_size: int) -> None:
    # bzip2 decodes 900 kB blocks whole: several of them, so half the file gives some
    lines = 100_000 if compression == "bzip2" else 20_000
    content = b"".join(b'{"n": %d, "text": "%s"}\n' % (n, b"y" * (n % 50)) for n in range(lines))
    whole = COMPRESSORS[compression](content)
    source = sniffed(whole[: len(whole) // 2], read_size=read_size)
    assert source.refusal is None  # the head decoded fine
    out = bytearray()
    with pytest.raises(CompressedInputError, match=f"the {compression} data ends inside") as cut:
        for chunk in source.chunks():
            out += chunk
    assert 0 < len(out) < len(content)
    assert content.startswith(out)
    assert cut.value.exit_code == ExitCode.FAILURES and "download it again" in (
        cut.value.hint or ""
    )


@pytest.mark.parametrize("compression", ["gzip", "bzip2", "xz"])
def test_corrupt_data_after_a_frame_fails_after_it(compression: str) -> None:
    content = b'{"a": 1}\n' * 1000
    source = sniffed(COMPRESSORS[compression](content) + b"garbage after the frame")
    out = bytearray()
    with pytest.raises(CompressedInputError, match=f"corrupt {compression} data"):
        for chunk in source.chunks():
            out += chunk
    assert bytes(out) == content


def test_the_refusal_names_the_input_and_what_it_is() -> None:
    source = SniffedInput(io.BytesIO(b"[1, 2]"), "dumps/RC 2015.zst", 1 << 20, 1 << 18)
    with pytest.raises(ConfigError) as refused:
        source.check()
    line = refused.value.one_line()
    assert line.startswith("dumps/RC 2015.zst is a JSON array, not NDJSON")
    assert "jq -c '.[]' 'dumps/RC 2015.zst'" in line  # quoted for the shell
    assert "\n" not in line
    piped = SniffedInput(io.BytesIO(b"<html>"), "-", 1 << 20, 1 << 18)
    with pytest.raises(ConfigError, match="standard input is an HTML page"):
        piped.check()


def test_no_valid_record_only_when_there_were_dead_letters_and_nothing_else() -> None:
    assert no_valid_record("x.zst", 0, 0, "a Reddit dump") is None
    assert no_valid_record("x.zst", 1, 5, "a Reddit dump") is None
    assert no_valid_record("x.zst", 0, 1_234, "a Reddit dump") == (
        "x.zst: no line was a valid record (1,234 dead-lettered): is it a Reddit dump?"
    )


def test_a_pipe_is_not_waited_for_once_its_first_line_is_whole() -> None:
    """The head of a plain pipe is what is there once the first line is a whole JSON
    object: a slow producer's first records are not held back for 64 KiB more."""

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.given = [b'{"a": 1}\n{"b"', b": 2}\n"]

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            assert self.given, "read past what the producer has written"
            data = self.given.pop(0)
            buffer[: len(data)] = data
            return len(data)

    source = SniffedInput(io.BufferedReader(Pipe()), "-", 1 << 20, 1 << 18)
    assert source.refusal is None
    assert source.plain_head == b'{"a": 1}\n{"b"'
