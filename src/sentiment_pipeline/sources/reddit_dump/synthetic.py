"""Synthetic Reddit dumps in the real files' shapes, for tests, benchmarks and trying the
command out; no real dump is needed or downloaded.

Each `ERAS` year reproduces that era's field drift (Pushshift's early files, its later
ones, Arctic Shift's): `created_utc` as a numeric string, an int or a float; `name`
present or missing; `edited` as a bool, an epoch number or a string; `_meta`; deleted
authors. With `hostile=True` some records carry the text the hostile-input policies are
about (emoji, right-to-left overrides, U+2028, a NUL escape, a lone surrogate escape and,
in `dump_lines`, an undecodable byte); they are stored with U+FFFD (sanitized).

Same arguments, same bytes: `(kind, year, count, subreddit, seed)` fixes everything.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sentiment_pipeline.fake_reddit.ids import to_base36
from sentiment_pipeline.sources.reddit_dump.records import Kind

__all__ = [
    "ERAS",
    "INVALID_BYTE_MARK",
    "SURROGATE_MARK",
    "dump_lines",
    "dump_objects",
    "write_dump",
]

ERAS = (2008, 2012, 2016, 2019, 2023)
INVALID_BYTE_MARK = "@@BYTE@@"  # becomes the undecodable byte 0xFF in `dump_lines`
SURROGATE_MARK = "@@SURROGATE@@"  # becomes the JSON escape of a lone surrogate
_WORDS = (  # noqa: SIM905 (a word list reads better as text)
    "python rust code release bug fix test build deploy api data model query index "
    "thread async await memory leak profile speed cache server client request docs "
    "honestly think really going today tomorrow week news report guide question answer"
).split()
_HOSTILE = (
    "emoji 👩‍👩‍👧‍👦 and 🇺🇦",
    "rtl \u202eevil\u202c text",
    "line\u2028separator",
    "nul\x00inside",  # JSON \u0000 -> U+FFFD, sanitized
    f"lone {SURROGATE_MARK} half",  # the JSON escape \ud83d alone -> U+FFFD, sanitized
    f"bad {INVALID_BYTE_MARK} byte",  # an undecodable byte -> U+FFFD, sanitized
    'quotes " and , commas\nand newlines',
    "ümlaut ä ö € 中文 ✓",
)


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def _created(year: int, epoch: int) -> Any:
    if year <= 2012:
        return str(epoch)  # Pushshift's early files: a numeric string
    if year >= 2023:
        return float(epoch)  # some Arctic Shift files: a float
    return epoch


def _edited(year: int, rng: random.Random, epoch: int) -> Any:
    if rng.random() < 0.7:
        return False
    if year <= 2008:
        return "true"  # a string in a few of the oldest records
    if year <= 2012:
        return True
    return epoch + rng.randrange(60, 86_400) + (0.0 if year >= 2023 else 0)


def dump_objects(
    kind: Kind,
    year: int,
    count: int,
    subreddit: str | None = "Python",
    seed: int = 1,
    hostile: bool = True,
    start: int | None = None,
) -> Iterator[dict[str, Any]]:
    """`count` objects as a `year`'s dump holds them (`subreddit=None`: no `subreddit`
    field, as in a per-subreddit file that relies on its name). Ids `<seed><n>` in base
    36, creation times rising from `start` (default: 1 March of `year`, UTC)."""
    rng = random.Random(f"{kind}-{year}-{seed}")
    moment = start if start is not None else int(datetime(year, 3, 1, tzinfo=UTC).timestamp())
    for n in range(count):
        moment += rng.randrange(1, 30)
        ident = to_base36(36**5 * seed + n)
        author = "[deleted]" if rng.random() < 0.1 else f"user_{rng.randrange(50_000)}"
        obj: dict[str, Any] = {
            "author": author,
            "created_utc": _created(year, moment),
            "edited": _edited(year, rng, moment),
            "id": ident,
            "score": rng.randrange(-50, 5000),
            "retrieved_on": moment + 86_400 * 30,
            "subreddit_id": "t5_2qh0y",
            "gilded": 0,
            "stickied": rng.random() < 0.01,
            "author_flair_text": None,
            "distinguished": None,
        }
        if subreddit is not None:
            obj["subreddit"] = subreddit
        if kind == "submission":
            obj["title"] = _text(rng, rng.randrange(6, 16)).capitalize()
            obj["selftext"] = _text(rng, rng.randrange(100, 200))
            obj["url"] = f"https://www.reddit.com/r/{subreddit or 'x'}/comments/{ident}/"
            obj["num_comments"] = rng.randrange(0, 900)
            obj["over_18"] = False
            obj["permalink"] = f"/r/{subreddit or 'x'}/comments/{ident}/"
        else:
            obj["body"] = _text(rng, rng.randrange(100, 200))
            obj["link_id"] = "t3_" + to_base36(36**5 * seed + rng.randrange(n + 1))
            obj["parent_id"] = obj["link_id"]
            obj["controversiality"] = 0
        if year >= 2012:
            obj["name"] = ("t3_" if kind == "submission" else "t1_") + ident
        if year >= 2016 and kind == "comment" and n % 3 == 0:
            del obj["name"]  # even later files miss it now and then
        if year >= 2023:
            obj["_meta"] = {"retrieved_2nd_on": moment + 86_400 * 60, "was_deleted_later": False}
            obj["all_awardings"] = []
        if hostile and n % 7 == 3:
            field = "title" if kind == "submission" else "body"
            obj[field] = f"{obj[field]} {_HOSTILE[(n // 7) % len(_HOSTILE)]}"
        yield obj


def dump_lines(objects: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Each object as one NDJSON line of bytes (UTF-8, `\\n` ended), as the dumps write
    them; `INVALID_BYTE_MARK` in a string becomes the byte 0xFF and `SURROGATE_MARK` the
    escape `\\ud83d` (half a pair)."""
    byte_mark, surrogate_mark = INVALID_BYTE_MARK.encode(), SURROGATE_MARK.encode()
    for obj in objects:
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        if b"@@" in line:
            line = line.replace(byte_mark, b"\xff").replace(surrogate_mark, b"\\ud83d")
        yield line + b"\n"


def write_dump(path: Path, lines: Iterable[bytes], compress: bool | None = None) -> Path:
    """Write `lines` to `path`, zstd-compressed like the real dumps (level 3, `--long=31`
    window) when `compress` is true or, by default, when the name ends
    in `.zst`. Returns `path`."""
    compress = path.suffix == ".zst" if compress is None else compress
    if not compress:
        with path.open("wb") as handle:
            for line in lines:
                handle.write(line)
        return path
    import zstandard

    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31, enable_ldm=True)
    compressor = zstandard.ZstdCompressor(compression_params=params)
    with path.open("wb") as raw, compressor.stream_writer(raw, closefd=False) as writer:
        for line in lines:
            writer.write(line)
    return path
