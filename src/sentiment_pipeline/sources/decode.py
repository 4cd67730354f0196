"""Undo an input's compression as it streams: zstd, gzip, bzip2 and xz, found by magic.

Pushshift's monthly dumps are zstd (`--long=31`, a 2 GiB window, allowed here), its older
ones bzip2 and xz; people re-pack them with gzip. Each format is decoded frame after
frame (a zstd file of many frames, `cat a.gz b.gz`, `pbzip2`'s streams, xz streams with
their zero padding), and input that ends inside a frame, or holds corrupt data, raises
`CompressedInputError` once every byte before it is given out. Memory stays flat in the
input's size: one read of compressed data and its output are alive at a time.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from sentiment_pipeline.errors import SentpipeError

__all__ = [
    "MAX_WINDOW",
    "ZSTD_MAGIC",
    "CompressedInputError",
    "Compression",
    "compression_of",
    "decompressed",
]

Compression = Literal["zstd", "gzip", "bzip2", "xz"]
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_WINDOW = 2**31  # `--long=31`
# The zstd decoder's output buffer: a read's whole output fits in it, so it is decoded in
# one go with the GIL released and copied out once. The default (128 KiB) took a dozen
# turns a read, each growing the output by a copy of all of it, GIL held: the threads
# that feed the database waited meanwhile.
WRITE_SIZE = 4 << 20
_GZIP_MAGIC = b"\x1f\x8b\x08"  # and deflate, the only method gzip has
_XZ_MAGIC = b"\xfd7zXZ\x00"
# bzip2: "BZh", the block size, then a block's magic (pi) or the end of an empty stream
# (sqrt(pi)): ten bytes, so a text that starts with "BZh9" is still text.
_BZIP2_BLOCK = (b"1AY&SY", b"\x17rE8P\x90")
_END_WORDS: dict[Compression, str] = {
    "zstd": "frame",
    "gzip": "member",
    "bzip2": "stream",
    "xz": "stream",
}


class CompressedInputError(SentpipeError):
    """The input ended inside a compressed frame, or its compressed data is corrupt (every
    complete line before it was given out)."""


def compression_of(head: bytes) -> Compression | None:
    """The compression the first bytes of an input show (None: none of the four). A
    zstd file may start with a skippable frame (`pzstd` writes one)."""
    if head.startswith(ZSTD_MAGIC) or (
        len(head) >= 4 and 0x50 <= head[0] <= 0x5F and head[1:4] == b"\x2a\x4d\x18"
    ):
        return "zstd"
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_XZ_MAGIC):
        return "xz"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in _BZIP2_BLOCK:
        return "bzip2"
    return None


def _zstd() -> Any:
    import zstandard

    return zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW).decompressobj(
        write_size=WRITE_SIZE
    )


def _errors(compression: Compression) -> tuple[type[Exception], ...]:
    if compression == "zstd":
        import zstandard

        return (zstandard.ZstdError,)
    return {"gzip": (zlib.error,), "bzip2": (OSError,), "xz": (lzma.LZMAError,)}[compression]


_DECODERS: dict[Compression, Callable[[], Any]] = {
    "zstd": _zstd,
    "gzip": lambda: zlib.decompressobj(wbits=31),
    "bzip2": bz2.BZ2Decompressor,
    "xz": lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ),
}


def decompressed(compression: Compression, reads: Iterable[bytes], name: str) -> Iterator[bytes]:
    """The decoded bytes of `reads` (the compressed input, in pieces of any size), frame
    after frame. Zero bytes between or after gzip members and xz streams are padding.
    Raises `CompressedInputError` (naming `name`) after the last decoded byte when the
    input ends inside a frame or is corrupt."""
    new = _DECODERS[compression]
    errors = _errors(compression)
    padded = compression in ("gzip", "xz")
    frame = new()
    inside = False  # fed part of a frame that has not ended yet
    for data in reads:
        while data:
            if padded and not inside:
                data = data.lstrip(b"\0")
                if not data:
                    break
            try:
                out = frame.decompress(data)
            except errors as error:
                raise CompressedInputError(
                    f"{name}: corrupt {compression} data ({error})",
                    "the file is damaged: download it again",
                ) from None
            inside = True
            if out:
                yield out
                # Let go of it before the next one is made: with two alive the
                # allocator maps fresh memory for every chunk (~20% of decoding).
                del out
            if frame.eof:  # the next frame starts in what was left over
                data, inside = frame.unused_data, False
                frame = new()
            else:
                data = b""
    if inside:
        raise CompressedInputError(
            f"{name}: the {compression} data ends inside a {_END_WORDS[compression]} (cut off?)",
            "the end of the file is missing: download it again",
        )
