"""Where an export may write, checked before any query, and the one-line error for an
output that fails while it is written (a full disk, a read-only or vanished folder).

Why: an unwritable `-o` used to surface as "Internal error: FileExistsError …" after the
query had run, and a single file's missing folder was silently created (`mkdir -p`), so
a typo made a stray tree. The rules (docs/export.md, "Output paths"): a single file's
folder must exist; `--layout partitioned` creates its folder, whose parent must exist.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sentiment_pipeline.errors import ConfigError

__all__ = ["check_output_dir", "check_output_file", "output_error", "stat_errors"]

# errno values meaning "no room": the data is intact, only this file could not be written
_FULL = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is larger than the file system allows",
}


def _blocking_file(folder: Path) -> Path | None:
    """The nearest existing ancestor of `folder` (itself included) when it is not a
    folder (a regular file in the way), else None."""
    for candidate in (folder, *folder.parents):
        try:
            if candidate.exists():
                return None if candidate.is_dir() else candidate
        except OSError:  # a name too long, a loop of links: not a file in the way
            continue
    return None


def _require_folder(folder: Path, target: Path, created: bool = False) -> None:
    """ConfigError unless `folder` exists and is a folder (a file in the way, or missing);
    `created`: the export creates `target` itself, so the message says only its parent
    must exist."""
    if folder.is_dir():
        return
    blocker = _blocking_file(folder)
    if blocker is not None:
        raise ConfigError(
            f"cannot write {target}: {blocker} is a file, not a folder",
            "choose a writable path with -o",
        )
    what = f"folder {folder} (the parent of -o {target})" if created else f"folder {folder}"
    raise ConfigError(f"{what} does not exist", f"create it first (mkdir -p {folder}), or fix -o")


def _probe(folder: Path, target: Path) -> None:
    """Create and remove a hidden file in `folder`: a read-only, forbidden or special
    folder (`/proc`, `/sys`) fails here, before any query, even for root."""
    try:
        handle, name = tempfile.mkstemp(prefix=".sentpipe-", suffix=".probe", dir=folder)
    except OSError as error:
        if error.errno in _FULL:
            raise output_error(target, error) from error
        reason = error.strerror or type(error).__name__
        raise ConfigError(
            f"cannot write {target}: folder {folder} does not take new files ({reason})",
            "choose a writable path with -o",
        ) from error
    os.close(handle)
    os.unlink(name)


@contextmanager
def stat_errors(target: Path) -> Iterator[None]:
    """An OSError looking at `target` (a name too long, a link loop) is `output_error`."""
    try:
        yield
    except OSError as error:
        raise output_error(target, error) from error


def check_output_file(path: Path) -> None:
    """ConfigError (one line, exit 2) unless `path` can be written as one file: not an
    existing folder, in a folder that exists (never created) and accepts a new file."""
    with stat_errors(path):
        _check_file(path)


def check_output_dir(directory: Path) -> None:
    """ConfigError (one line, exit 2) unless `directory` can hold a partitioned export:
    an existing folder, or a new one whose parent exists (the export creates `directory`
    itself, not its parents), in either case accepting new files."""
    with stat_errors(directory):
        _check_dir(directory)


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise ConfigError(
            f"{path} is a folder, and a single-file export writes one file",
            "give -o FILE, or add --layout partitioned to write into the folder",
        )
    _require_folder(path.parent, path)
    _probe(path.parent, path)


def _check_dir(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(
            f"{directory} is a file, and --layout partitioned writes a folder",
            "give -o DIR (or drop --layout partitioned for one file)",
        )
    folder = directory if directory.is_dir() else directory.parent
    _require_folder(folder, directory, created=True)
    _probe(folder, directory)


def output_error(path: Path, error: OSError) -> ConfigError:
    """The one-line ConfigError for `error` raised creating or writing `path`: a full
    disk or quota says the database lost nothing; a file in the way names it; anything
    else gives the system's reason. Callers have removed the partial file."""
    if error.errno in _FULL:
        hint = (
            "choose another path with -o (a file system for large files) or export fewer rows"
            if error.errno == errno.EFBIG
            else "free some space or choose another path with -o, then run the same command again"
        )
        return ConfigError(
            f"cannot write {path}: {_FULL[error.errno]} (nothing in the database is lost, "
            "and no partial file is left)",
            hint,
        )
    blocker = _blocking_file(path.parent)
    if error.errno in (errno.EEXIST, errno.ENOTDIR) and blocker is not None:
        return ConfigError(
            f"cannot write {path}: {blocker} is a file, not a folder",
            "choose a writable path with -o",
        )
    reason = error.strerror or type(error).__name__
    return ConfigError(f"cannot write {path}: {reason}", "choose a writable path with -o")
