"""Lines of JSON, parsed exactly as the standard `json` module parses them, but fast.

Parsing is orjson's (several times faster) wherever its result is exactly the standard
parser's: `loads_exact` sends the few lines where the two differ (integers past 64 bits,
floats under 1e-4, lone surrogates, invalid UTF-8, NaN, refusals) down the standard path
(`parse_line`), so every policy and message is the standard parser's. `differing_lines`
and `lines_holding` test a whole block of lines at once; `parse_cleaned` cleans what
validation would replace by U+FFFD in the text, before parsing. A line the parser refuses
(not JSON, NaN/Infinity, an integer past Python's 4,300-digit limit, nesting past the
recursion limit) becomes a `Rejected` record with its line number, never a crash.
"""

from __future__ import annotations

import codecs
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Any

import orjson

from sentiment_pipeline.dto import MAX_DEPTH, Parsed, Rejected, dumps_exact

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
    "parse_cleaned",
    "parse_line",
    "parse_record_line",
    "split_lines",
]

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
