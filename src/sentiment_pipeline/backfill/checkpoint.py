"""Per-file checkpoints of `sentpipe ingest reddit-dump`: how many lines are done.

One small JSON file per dump under `<data dir>/backfill/`, named after the dump's file
name and a hash of its absolute path: `{"path", "size", "lines_done", "complete"}`.
Written atomically (temp file + rename) each time the pipeline reports more lines as
durable, so a crash leaves the last good checkpoint; each write has a temporary file of
its own (`<checkpoint>.<pid>.<random>.tmp`), so two processes or threads never write
one. A checkpoint whose `size` is not the file's current size belongs to another file
of that name and is ignored. Beside it, `<name>.<hash>.lock` is the dump's run lock
(`lock.run_lock`): one run loads a file at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sentiment_pipeline.errors import SentpipeError

__all__ = ["Checkpoint", "CheckpointFile"]


@dataclass(frozen=True)
class Checkpoint:
    lines_done: int = 0
    complete: bool = False


class CheckpointFile:
    """The checkpoint of the dump at `dump` (a path; its size identifies it)."""

    def __init__(self, directory: Path, dump: Path) -> None:
        absolute = dump.resolve()
        digest = hashlib.sha1(str(absolute).encode(), usedforsecurity=False).hexdigest()[:12]
        self.path = directory / f"{dump.name}.{digest}.json"
        self.dump = absolute
        self.size = absolute.stat().st_size

    def load(self) -> Checkpoint:
        """The saved checkpoint, or a fresh one (none saved, unreadable, other size)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("size") != self.size:
                return Checkpoint()
            return Checkpoint(int(data["lines_done"]), bool(data.get("complete", False)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return Checkpoint()

    def save(self, checkpoint: Checkpoint) -> None:
        """Write the checkpoint atomically. Raises `SentpipeError` when it cannot be
        written (a full disk): the run stops; the last saved checkpoint stays, so the
        same command again repeats a little and skips nothing."""
        try:
            self._save(checkpoint)
        except OSError as error:
            raise SentpipeError(
                f"cannot save the checkpoint {self.path}: {error.strerror or error}",
                "free space in SENTPIPE_DATA_DIR, then run the same command again",
            ) from error

    def _save(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "path": str(self.dump),
            "size": self.size,
            "lines_done": checkpoint.lines_done,
            "complete": checkpoint.complete,
        }
        temporary = self.path.with_name(f"{self.path.name}{_temporary_suffix()}")
        try:
            with temporary.open("w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)

    @property
    def lock_path(self) -> Path:
        """The run lock of this dump: `<name>.<hash>.lock` beside the checkpoint."""
        return self.path.with_suffix(".lock")

    def remove_stale_temporaries(self) -> None:
        """Delete temporary files a killed run left (call it holding `lock_path`: no
        other run writes this checkpoint then)."""
        prefix = f"{self.path.name}."
        try:
            names = [entry for entry in self.path.parent.iterdir() if entry.name.startswith(prefix)]
        except OSError:
            return
        for entry in names:
            if entry.name.endswith(".tmp"):
                entry.unlink(missing_ok=True)


def _temporary_suffix() -> str:
    """`.<pid>.<random>.tmp`: unique to this process and this write."""
    return f".{os.getpid()}.{secrets.token_hex(4)}.tmp"
