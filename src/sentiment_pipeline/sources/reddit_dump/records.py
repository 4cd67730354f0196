"""One dump object -> one event record in the scraper's exact shape.

The keys are the scraper's (`sources/reddit/payload.py`): `id` is the fullname (`t3_…`
for a submission, `t1_…` for a comment), `occurred_at` is `created_utc`, `source` is
`reddit`, `source_id` the subreddit (validation lower-cases it), `event_type`
`submission` or `comment`; so a post from a dump and the same post from the API are one
row. `payload` is the object as sent, `_meta` and every other field included.

Field drift across the years, handled here: `created_utc` as an int, a float or a numeric
string (older files); `name` missing (built from the kind and `id`); `subreddit` missing
(taken from a per-subreddit file's name, else the record is refused); `edited` as a bool,
a number or a string and `author` `"[deleted]"` are kept as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal

from sentiment_pipeline.dto import Rejected

__all__ = ["KINDS", "FileHints", "Kind", "dump_record", "epoch_of", "hints_from_name", "kind_of"]

Kind = Literal["submission", "comment"]
KINDS: tuple[Kind, ...] = ("submission", "comment")
SOURCE = "reddit"
_PREFIX: dict[str, str] = {"submission": "t3_", "comment": "t1_"}
_BY_PREFIX: dict[str, Kind] = {"t3_": "submission", "t1_": "comment"}
_MONTHLY = re.compile(r"^(RS|RC)_\d{4}-\d{2}", re.IGNORECASE)
_PER_SUBREDDIT = re.compile(r"^(?P<name>[A-Za-z0-9_]+)_(?P<kind>submissions|comments)$")


@dataclass(frozen=True)
class FileHints:
    """What a dump's file name tells: its kind and, for a per-subreddit file, the
    subreddit (`RS_2023-01.zst` -> submission; `python_comments.zst` -> comment, python)."""

    kind: Kind | None = None
    subreddit: str | None = None


def hints_from_name(path: str) -> FileHints:
    """The `FileHints` of a file name (none for `-` or an unknown name)."""
    name = PurePath(path).name
    stem = name.split(".", 1)[0]
    monthly = _MONTHLY.match(stem)
    if monthly:
        return FileHints("submission" if monthly.group(1).upper() == "RS" else "comment")
    per_subreddit = _PER_SUBREDDIT.match(stem)
    if per_subreddit:
        kind: Kind = "submission" if per_subreddit["kind"] == "submissions" else "comment"
        return FileHints(kind, per_subreddit["name"])
    return FileHints()


def kind_of(obj: dict[str, Any]) -> Kind | None:
    """The kind a record itself tells: its `name` prefix, else `link_id` (comments) or
    `title` (submissions); None when it tells nothing."""
    name = obj.get("name")
    if isinstance(name, str):
        kind = _BY_PREFIX.get(name[:3])
        if kind is not None:
            return kind
    if "link_id" in obj:
        return "comment"
    if "title" in obj:
        return "submission"
    return None


def epoch_of(value: Any) -> Any:
    """`created_utc` as a number when it is one (an int, a float, or a numeric string as in
    older files); anything else as it is (validation refuses it with a reason)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return value
    return value


def dump_record(obj: Any, hints: FileHints, kind: Kind | None = None) -> dict[str, Any] | Rejected:
    """The event record of one dump object, or a `Rejected` with the reason.

    `kind` (the `--kind` option) overrides what the record and the file name say.
    """
    if type(obj) is not dict:
        return Rejected(obj, f"not a JSON object but a {type(obj).__name__}")
    name = obj.get("name")
    prefix = name[:3] if isinstance(name, str) else None
    # `kind or kind_of(obj) or hints.kind`, with kind_of's first test inline
    kind = kind or _BY_PREFIX.get(prefix) or kind_of(obj) or hints.kind  # type: ignore[arg-type]
    if kind is None:
        return Rejected(obj, "cannot tell a submission from a comment: give --kind")
    if prefix != _PREFIX[kind]:
        ident = obj.get("id")
        if not isinstance(ident, str | int) or isinstance(ident, bool) or ident == "":
            return Rejected(obj, "no `name` and no `id`: the record has no key")
        name = f"{_PREFIX[kind]}{ident}"
    subreddit = obj.get("subreddit")
    if not isinstance(subreddit, str) or not subreddit:
        subreddit = hints.subreddit
        if subreddit is None:
            return Rejected(obj, "no `subreddit` (and the file name does not give one)")
    created = obj.get("created_utc")
    if created is None:
        created = obj.get("created")
    return {
        "id": name,
        "occurred_at": epoch_of(created),
        "source": SOURCE,
        "source_id": subreddit,
        "event_type": kind,
        "payload": obj,
    }
