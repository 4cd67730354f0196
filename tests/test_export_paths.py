"""Output paths `export csv` and `export parquet` cannot write: refused with one line
(exit 2) naming the path and what to do, before any query, creating nothing; a write
that fails midway (a full disk) is the same one line and leaves no file behind.

The rules (docs/export.md, "Output paths"): a single file's folder must exist (never
created); `--layout partitioned` creates its folder, whose parent must exist."""

from __future__ import annotations

import errno
import io
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_pipeline import export as export_module
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.export import atomic_output, export_csv, export_partitioned
from tests.fixtures.cli import invoke
from tests.test_export import HOSTILE, load

pytest.importorskip("pyarrow")

# The discard port refuses connections: a command that reached the database exits 3,
# so exit 2 proves the path was refused before any query.
UNREACHABLE = "postgresql://sentpipe:x@127.0.0.1:9/sentpipe"
FORMATS = ("csv", "parquet")
LAYOUTS = ("single", "partitioned")
LINUX = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")


def _args(fmt: str, layout: str, out: Path | str) -> list[str]:
    return ["export", fmt, "--layout", layout, "-o", str(out)]


def _name(fmt: str, layout: str) -> str:
    return "sub" if layout == "partitioned" else f"x.{fmt}"


def _files(root: Path) -> list[str]:
    """Every path under `root` (hidden ones too), relative, sorted."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def _refused(args: list[str], url: str, *needles: str) -> str:
    result = invoke(*args, env={"SENTPIPE_DATABASE_URL": url})
    assert result.exit_code == 2, (args, result.output)
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Internal error" not in result.stderr and "Traceback" not in result.output
    for needle in needles:
        assert needle.lower() in result.stderr.lower(), (needle, result.stderr)
    return result.stderr


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_parent_that_is_a_file_is_refused_before_any_query(
    fmt: str, layout: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "ex" / "all.csv"
    blocker.parent.mkdir()
    blocker.write_bytes(b"keep")
    target = blocker / _name(fmt, layout)
    for url in (UNREACHABLE, f"sqlite:///{tmp_path}/missing.db"):
        _refused(_args(fmt, layout, target), url, str(target), f"{blocker} is a file")
    deep = blocker / "deeper" / _name(fmt, layout)  # a file further up the path
    _refused(_args(fmt, layout, deep), UNREACHABLE, f"{blocker} is a file", "writable path")
    assert blocker.read_bytes() == b"keep"
    assert _files(tmp_path) == ["ex", "ex/all.csv"]


@LINUX
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("folder", ["/proc", "/sys"])
def test_a_folder_that_takes_no_files_is_refused_even_for_root(
    fmt: str, layout: str, folder: str
) -> None:
    target = Path(folder) / _name(fmt, layout)
    _refused(_args(fmt, layout, target), UNREACHABLE, str(target), "choose a writable path")
    assert not target.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_single_files_missing_folder_is_refused_not_created(fmt: str, tmp_path: Path) -> None:
    folder = tmp_path / "nonex" / "dir"
    target = folder / f"x.{fmt}"
    for url in (UNREACHABLE, f"sqlite:///{tmp_path}/missing.db"):
        _refused(
            _args(fmt, "single", target), url, f"folder {folder} does not exist",
            f"mkdir -p {folder}",
        )  # fmt: skip
    assert _files(tmp_path) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_partitioned_creates_its_folder_but_not_a_missing_parent(
    fmt: str, sqlite_url: str, tmp_path: Path
) -> None:
    load(sqlite_url, HOSTILE)
    parent = tmp_path / "nonex"
    _refused(
        _args(fmt, "partitioned", parent / "lake"), UNREACHABLE,
        f"folder {parent} (the parent of -o {parent / 'lake'}) does not exist",
        f"mkdir -p {parent}",
    )  # fmt: skip
    assert not parent.exists()
    parent.mkdir()
    result = invoke(
        *_args(fmt, "partitioned", parent / "lake"), env={"SENTPIPE_DATABASE_URL": sqlite_url}
    )
    assert result.exit_code == 0, result.output
    assert (parent / "lake").is_dir() and list((parent / "lake").rglob(f"*.{fmt}"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_existing_folder_or_a_trailing_slash_is_not_a_single_file(
    fmt: str, tmp_path: Path
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    _refused(_args(fmt, "single", folder), UNREACHABLE, f"{folder} is a folder")
    _refused(["export", fmt, "--force", "-o", str(folder)], UNREACHABLE, "is a folder")
    _refused(["export", fmt, "-o", f"{tmp_path}/new/"], UNREACHABLE, "names a folder")
    assert _files(tmp_path) == ["folder"]


class _Full:
    """`_WritebackFile._write` replaced: accepts `budget` bytes per file, then raises
    OSError(`code`) as a full disk (ENOSPC) or quota (EDQUOT) does."""

    def __init__(self, budget: int, code: int) -> None:
        self.budget, self.code, self.raised = budget, code, 0
        self.written: dict[int, int] = {}

    def __call__(self, file: io.FileIO, data: Any) -> int:
        done = self.written.get(id(file), 0)
        if done + len(data) > self.budget:
            self.raised += 1
            raise OSError(self.code, "No space left on device")
        self.written[id(file)] = done + len(data)
        return io.FileIO.write(file, data) or 0


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Full]:
    full = _Full(budget=300, code=errno.ENOSPC)
    patched = (export_module._WritebackFile, "_write", lambda f, data: full(f, data))
    monkeypatch.setattr(*patched, raising=False)  # before the seam existed: a test failure
    yield full


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_mid_export_is_one_line_and_leaves_no_file(
    fmt: str, layout: str, code: int, sqlite_url: str, tmp_path: Path, full_disk: _Full
) -> None:
    load(sqlite_url, HOSTILE)
    full_disk.code = code
    out = tmp_path / "out"
    out.mkdir()
    target = out / _name(fmt, layout)
    stderr = _refused(
        _args(fmt, layout, target), sqlite_url, "nothing in the database is lost",
        "free some space", str(target),
    )  # fmt: skip
    assert full_disk.raised >= 1
    assert ("quota" in stderr) == (code == errno.EDQUOT)
    # the first file failed: no file under a final name, no partial, no empty folders
    assert _files(out) == []


def test_a_full_disk_after_some_partitions_keeps_the_finished_ones(
    sqlite_url: str, tmp_path: Path, full_disk: _Full
) -> None:
    load(sqlite_url, HOSTILE)
    full_disk.budget = 10**6
    whole = export_partitioned(load(sqlite_url, []), tmp_path / "whole")
    assert len(whole.files) >= 2
    full_disk.written.clear()
    calls = {"files": 0}
    original = export_module._WritebackFile.__init__

    def second_is_full(file: Any, path: Path) -> None:
        original(file, path)
        calls["files"] += 1
        if calls["files"] == 2:
            full_disk.written[id(file)] = full_disk.budget  # this one has no room

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export_module._WritebackFile, "__init__", second_is_full)
        with pytest.raises(ConfigError, match="no space left") as caught:
            export_partitioned(load(sqlite_url, []), tmp_path / "lake")
    first = whole.files[0].relative_to(tmp_path / "whole")
    assert str(whole.files[1].relative_to(tmp_path / "whole")) in caught.value.reason
    kept = [str(first), *(str(folder) for folder in first.parents if str(folder) != ".")]
    assert _files(tmp_path / "lake") == sorted(kept)  # the failed one left no folder
    assert (tmp_path / "lake" / first).read_bytes() == whole.files[0].read_bytes()
    assert not [name for name in _files(tmp_path) if name.endswith(".partial")]


def test_a_failure_when_finishing_the_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(export_module.os, "fsync", broken)
    target = tmp_path / "x.csv"
    failed = pytest.raises(ConfigError, match=r"cannot write .*x\.csv: Input/output error")
    with failed, atomic_output(target) as out:
        out.write(b"a,b\r\n")
    assert _files(tmp_path) == []


def _open(path: Path, make_parents: bool) -> None:
    with atomic_output(path, make_parents=make_parents) as out:
        out.write(b"never")


@LINUX
def test_atomic_output_that_cannot_create_its_file_is_one_line(tmp_path: Path) -> None:
    """The checks run before the query; a folder that changes in between (removed, made
    read-only) still ends in one line, not an internal error."""
    proc = Path("/proc/x.parquet")
    with pytest.raises(ConfigError, match=r"cannot write /proc/x\.parquet"):
        _open(proc, make_parents=False)
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(ConfigError, match=re.escape(f"{blocker} is a file, not a folder")):
        _open(blocker / "a" / "x.csv", make_parents=True)
    with pytest.raises(ConfigError, match="No such file or directory"):
        _open(tmp_path / "gone" / "x.csv", make_parents=False)
    assert _files(tmp_path) == ["file"]


_LOADED: dict[str, DatabaseURL] = {}  # one load per test, not per example
# Each step of a path below tmp_path: an existing folder, an existing file, or missing.
_STEPS = st.lists(st.sampled_from(["dir", "file", "missing"]), min_size=0, max_size=3)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_STEPS, partitioned=st.booleans())
def test_any_path_is_written_or_refused_with_nothing_created(
    steps: list[str], partitioned: bool, sqlite_url: str, tmp_path: Path
) -> None:
    db = _LOADED.get(sqlite_url) or _LOADED.setdefault(sqlite_url, load(sqlite_url, HOSTILE))
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    folder = root
    for n, step in enumerate(steps):
        folder = folder / f"s{n}"
        if step == "dir" and folder.parent.is_dir():
            folder.mkdir()
        elif step == "file" and folder.parent.is_dir():
            folder.write_bytes(b"keep")
    before = _files(root)
    writable = folder.is_dir()
    target = folder / ("lake" if partitioned else "x.csv")
    try:
        if partitioned:
            result = export_partitioned(db, target, limit=2)
        else:
            result = export_csv(db, target, limit=2)
    except ConfigError as error:
        assert not writable
        assert str(target) in error.one_line() or str(folder) in error.one_line()
        assert _files(root) == before
        return
    assert writable and result.rows == 2
    assert set(before) <= set(_files(root)) and all(path.is_file() for path in result.files)


def test_installed_command_refuses_unwritable_paths(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "sentpipe"
    blocker = tmp_path / "all.csv"
    blocker.write_bytes(b"")
    cases = {
        ("csv", "-o", str(tmp_path / "nonex" / "x.csv")): "does not exist",
        ("parquet", "-o", str(tmp_path / "nonex" / "x.parquet")): "does not exist",
        ("csv", "--layout", "partitioned", "-o", str(blocker / "sub")): "is a file",
        ("parquet", "--layout", "partitioned", "-o", str(blocker / "sub")): "is a file",
    }
    for args, message in cases.items():
        done = subprocess.run(
            [str(command), "export", *args],
            env={"SENTPIPE_DATABASE_URL": UNREACHABLE, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
        assert "Internal error" not in done.stderr
    assert _files(tmp_path) == ["all.csv"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_name_too_long_is_one_line(fmt: str, layout: str, tmp_path: Path) -> None:
    name = "a" * 300 + ("" if layout == "partitioned" else f".{fmt}")
    _refused(_args(fmt, layout, tmp_path / name), UNREACHABLE, "file name too long")
    assert _files(tmp_path) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_partition_name_too_long_is_one_line(fmt: str, sqlite_url: str, tmp_path: Path) -> None:
    """A source id whose escaped folder name passes the file system's limit (255 bytes):
    `é` is 2 bytes in UTF-8 (the CSV layout), 6 escaped (%C3%A9, the Parquet layout)."""
    import sqlalchemy as sa

    db = load(sqlite_url, HOSTILE)
    engine = sa.create_engine(db.sqlalchemy)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE raw_events SET source_id = :id"), {"id": "é" * 130})
    engine.dispose()
    out = tmp_path / "lake"
    # longer than validation stores: the CSV layout (unescaped names) refuses it as such
    said = "file name too long" if fmt == "parquet" else "not a safe folder name"
    _refused(_args(fmt, "partitioned", out), sqlite_url, said, str(out) if fmt == "parquet" else "")
    assert _files(tmp_path) == ["test.db"]


def test_partitioned_csv_refuses_a_stored_id_that_would_leave_the_folder(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A source id written around sentpipe (validation never stores one) with `..` in
    it: refused before any file is written, nothing lands outside -o."""
    import sqlalchemy as sa

    from sentiment_pipeline.db.url import parse_database_url

    load(sqlite_url, HOSTILE[:1])
    engine = sa.create_engine(parse_database_url(sqlite_url).sqlalchemy)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE raw_events SET source_id = '../../escaped'"))
    engine.dispose()
    out = tmp_path / "deep" / "lake"
    out.parent.mkdir()
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    result = invoke("export", "csv", "--layout", "partitioned", "-o", str(out), env=env)
    assert result.exit_code == 2 and "not a safe folder name" in result.output
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.rglob("*.csv"))
