"""Files that are not what `ingest reddit-dump` / `ingest ndjson` read (case 17: a gzip
file named .zst, a saved HTML error page, a JSON array): compressed dumps are read
whatever their name, anything else that is not NDJSON is refused with exit 2 before any
write, a cut-off compressed file keeps its complete lines and fails, an empty file is
nothing to do, and a file that gave no valid record fails and is not checkpointed
complete."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import random
import struct
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard

from sentiment_pipeline.sources.reddit_dump.synthetic import dump_lines, dump_objects
from tests.fixtures.cli import invoke
from tests.fixtures.events import ndjson_line, stored_rows

SENTPIPE = Path(sys.executable).with_name("sentpipe")
HTML = (
    "<html>\n<head><title>404 Not Found</title></head>\n<body>\n"
    "<center><h1>404 Not Found</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
)


def case_17_inputs(folder: Path) -> None:
    """The inputs of case 17 (`make_inputs.py`): 300 gzip'd submissions under a .zst
    name, an nginx 404 page under a dump's name, a one-line JSON array of 3 comments."""
    rng = random.Random(17)
    words = ["alpha", "beta", "gamma", "delta", "lorem", "ipsum", "python", "reddit", "dump"]
    rows = [
        {
            "id": f"g{i:04d}",
            "subreddit": "python",
            "created_utc": 1420070400 + i,
            "title": " ".join(rng.choice(words) for _ in range(8)),
            "selftext": " ".join(rng.choice(words) for _ in range(60)),
            "author": f"user{i % 37}",
        }
        for i in range(300)
    ]
    raw = "".join(json.dumps(row) + "\n" for row in rows).encode()
    (folder / "RS_2015-03.zst").write_bytes(gzip.compress(raw, compresslevel=6, mtime=0))
    (folder / "RC_2015-04.zst").write_text(HTML)
    comments = [
        {
            "id": f"j{i}",
            "subreddit": "python",
            "created_utc": 1420070400 + i,
            "body": f"comment {i}",
            "link_id": "t3_g0001",
        }
        for i in range(3)
    ]
    (folder / "python_comments.json").write_text(json.dumps(comments))


def installed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`sentpipe *args` through the installed console script."""
    return subprocess.run(
        [str(SENTPIPE), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def data_env(tmp_path: Path, url: str | None = None, sinks: str = "database") -> dict[str, str]:
    env = {
        "SENTPIPE_DATA_DIR": str(tmp_path / "data"),
        "SENTPIPE_DATABASE_URL": url or f"sqlite:///{tmp_path / 'data' / 'sentpipe.db'}",
        "SENTPIPE_SINKS": sinks,
    }
    assert invoke("db", "init", env=env).exit_code == 0
    return env


def dead_letters(data_dir: Path) -> list[str]:
    return [
        json.loads(line)["error"]
        for file in sorted((data_dir / "dead-letter").glob("*.ndjson"))
        for line in file.read_text(encoding="utf-8").splitlines()
    ]


def checkpoints(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Each checkpoint's content by the dump's file name."""
    found = {}
    for file in (data_dir / "backfill").glob("*.json"):
        data = json.loads(file.read_text(encoding="utf-8"))
        found[Path(data["path"]).name] = data
    return found


def csv_ids(data_dir: Path) -> list[str]:
    ids = []
    for file in sorted((data_dir / "csv").rglob("*.csv")):
        with file.open(newline="", encoding="utf-8") as handle:
            ids += [row["id"] for row in csv.DictReader(handle)]
    return ids


def test_case_17_a_gzip_file_loads_and_the_others_are_refused(
    any_db_url: str, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    case_17_inputs(inputs)
    env = data_env(tmp_path, any_db_url, sinks="database,csv")
    data_dir = tmp_path / "data"

    gz = installed(env, "ingest", "reddit-dump", str(inputs / "RS_2015-03.zst"), "--json")
    assert gz.returncode == 0, gz.stderr
    (file,) = json.loads(gz.stdout)["files"]
    assert (file["inserted"], file["invalid"], file["extra"]["complete"]) == (300, 0, True)
    assert dead_letters(data_dir) == []
    assert checkpoints(data_dir)["RS_2015-03.zst"]["complete"] is True
    expected = [f"t3_g{i:04d}" for i in range(300)]
    assert [row.id for row in stored_rows(any_db_url)] == expected
    assert sorted(csv_ids(data_dir)) == expected

    html = installed(env, "ingest", "reddit-dump", str(inputs / "RC_2015-04.zst"))
    assert html.returncode == 2
    assert html.stderr.strip().splitlines() == [
        f"Error: {inputs / 'RC_2015-04.zst'} is an HTML page, not NDJSON (one JSON object per "
        "line). A failed download saves its error page under the file's name: download it again"
    ]
    array = installed(env, "ingest", "reddit-dump", str(inputs / "python_comments.json"))
    assert array.returncode == 2
    assert "python_comments.json is a JSON array" in array.stderr
    assert "jq -c '.[]'" in array.stderr
    # Refused before any write: no checkpoint, no dead letter, no row.
    assert set(checkpoints(data_dir)) == {"RS_2015-03.zst"}
    assert dead_letters(data_dir) == []
    assert len(stored_rows(any_db_url)) == 300
    # Several files: a wrong one anywhere refuses the run before the first is loaded.
    both = installed(
        env,
        "ingest",
        "reddit-dump",
        "--restart",
        str(inputs / "RS_2015-03.zst"),
        str(inputs / "RC_2015-04.zst"),
    )
    assert both.returncode == 2 and "RC_2015-04.zst is an HTML page" in both.stderr
    assert checkpoints(data_dir)["RS_2015-03.zst"]["complete"] is True  # not restarted


def _submissions(count: int, seed: int) -> bytes:
    return b"".join(dump_lines(dump_objects("submission", 2016, count, seed=seed, hostile=False)))


def _ids(lines: bytes) -> set[str]:
    return {"t3_" + json.loads(line)["id"] for line in lines.splitlines()}


def test_compressed_dumps_load_whatever_their_name(any_db_url: str, tmp_path: Path) -> None:
    env = data_env(tmp_path, any_db_url)
    parts = [_submissions(200, seed) for seed in range(1, 6)]
    files = {
        # two gzip members and zero padding (`cat a.gz b.gz`, a padded re-pack)
        "RS_2016-01.zst": gzip.compress(parts[0][:9000], mtime=0)
        + gzip.compress(parts[0][9000:], mtime=0)
        + b"\0" * 16,
        # two bzip2 streams (`pbzip2`), named like an uncompressed export
        "python_submissions.json": bz2.compress(parts[1][:5000]) + bz2.compress(parts[1][5000:]),
        # two xz streams with stream padding, Pushshift's older monthly name
        "RS_2016-02.xz": lzma.compress(parts[2][:7000])
        + b"\0" * 8
        + lzma.compress(parts[2][7000:]),
        # zstd led by a skippable frame (`pzstd`), named .ndjson
        "RS_2016-03.ndjson": struct.pack("<II", 0x184D2A50, 3)
        + b"abc"
        + zstandard.ZstdCompressor().compress(parts[3]),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = invoke(
        "ingest", "reddit-dump", *(str(tmp_path / name) for name in files), "--json", env=env
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [f["extra"]["complete"] for f in data["files"]] == [True] * 4
    assert (data["total"]["inserted"], data["total"]["invalid"]) == (800, 0)
    piped = invoke(
        "ingest", "reddit-dump", "-", "--json", env=env, input=gzip.compress(parts[4], mtime=0)
    )
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.stdout)["total"]["inserted"] == 200
    stored = [row.id for row in stored_rows(any_db_url)]
    assert len(stored) == len(set(stored)) == 1000
    assert set(stored) == set().union(*(_ids(part) for part in parts))
    assert dead_letters(tmp_path / "data") == []


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("RS_2015-03.ndjson", data)
    return buffer.getvalue()


def _tar_gz(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("RS_2015-03.ndjson")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


_NDJSON = _submissions(20, 1)
_PAGE = HTML.encode()
WRONG: dict[str, tuple[Callable[[], bytes], str, str]] = {
    # name: (the file's bytes, what the error calls it, a word of the hint)
    "zip": (lambda: _zip(_NDJSON), "a zip archive", "unzip"),
    "7z": (
        lambda: b"7z\xbc\xaf\x27\x1c\x00\x04" + random.Random(7).randbytes(300),
        "a 7z archive",
        "7z x",
    ),
    "tar.gz": (lambda: _tar_gz(_NDJSON), "a tar archive (gzip-compressed)", "tar -xf"),
    "pdf": (
        lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n",
        "a PDF document",
        "NDJSON",
    ),
    "binary": (lambda: random.Random(3).randbytes(20_000), "binary data", "NDJSON"),
    "zeros": (lambda: b"\0" * 10_000, "only zero bytes", "finish"),
    "utf-16": (lambda: _NDJSON.decode().encode("utf-16"), "UTF-16 text", "iconv -f UTF-16 "),
    "utf-16le": (lambda: _NDJSON.decode().encode("utf-16-le"), "UTF-16LE text", "iconv"),
    "html": (lambda: _PAGE, "an HTML page", "download it again"),
    "html-bom": (lambda: b"\xef\xbb\xbf\r\n\n   \t" + _PAGE, "an HTML page", "download it again"),
    "html.gz": (lambda: gzip.compress(_PAGE), "an HTML page (gzip-compressed)", "download"),
    "html.xz": (lambda: lzma.compress(_PAGE), "an HTML page (xz-compressed)", "download"),
    "xml": (
        lambda: b'<?xml version="1.0"?>\n<Error>AccessDenied</Error>',
        "an XML document",
        "download",
    ),
    "array": (
        lambda: json.dumps([{"id": "a"}, {"id": "b"}]).encode(),
        "a JSON array",
        "jq -c '.[]'",
    ),
    "array-pretty": (lambda: json.dumps([{"id": "a"}], indent=2).encode(), "a JSON array", "jq"),
    "pretty-object": (
        lambda: json.dumps({"id": "a", "subreddit": "python"}, indent=2).encode(),
        "a pretty-printed JSON object",
        "jq -c .",
    ),
    "csv": (
        lambda: b"id,subreddit,created_utc\nabc,python,1420070400\n",
        "text that is not JSON",
        "NDJSON",
    ),
    "xz-in-gzip": (
        lambda: gzip.compress(lzma.compress(_NDJSON)),
        "xz data (gzip-compressed)",
        "until it is NDJSON",
    ),
}


@pytest.mark.parametrize("command", ["reddit-dump", "ndjson"])
@pytest.mark.parametrize("kind", sorted(WRONG))
def test_a_file_that_is_not_ndjson_is_refused_before_any_write(
    tmp_path: Path, kind: str, command: str
) -> None:
    env = data_env(tmp_path)
    make, what, hint = WRONG[kind]
    content = make()
    path = tmp_path / "RS_2015-03.zst"
    path.write_bytes(content)
    for args, name in (((str(path),), str(path)), (("-",), "standard input")):
        stdin = content if args == ("-",) else None
        result = invoke("ingest", command, *args, env=env, input=stdin)
        assert result.exit_code == 2, result.output
        (line,) = result.output.strip().splitlines()
        assert line.startswith(f"Error: {name} is {what}"), line
        assert "not NDJSON (one JSON object per line)" in line and hint in line
    data_dir = tmp_path / "data"
    assert dead_letters(data_dir) == [] and checkpoints(data_dir) == {}
    assert stored_rows(env["SENTPIPE_DATABASE_URL"]) == []


@pytest.mark.parametrize(
    ("compression", "compress", "word"),
    [
        ("gzip", lambda data: gzip.compress(data, mtime=0), "member"),
        ("bzip2", bz2.compress, "stream"),
        ("xz", lambda data: lzma.compress(data, preset=1), "stream"),
    ],
)
def test_a_cut_off_compressed_dump_keeps_its_complete_lines_and_fails(
    tmp_path: Path, compression: str, compress: Callable[[bytes], bytes], word: str
) -> None:
    env = data_env(tmp_path)
    lines = list(dump_lines(dump_objects("comment", 2016, 4000, hostile=False)))
    whole = compress(b"".join(lines))
    cut = tmp_path / "RC_2016-03.dump"
    cut.write_bytes(whole[: len(whole) * 3 // 4])
    for _attempt in (1, 2):  # a second run does not take the cut file for complete
        result = invoke("ingest", "reddit-dump", str(cut), "--json", env=env)
        assert result.exit_code == 1, result.output
        (file,) = json.loads(result.stdout)["files"]
        assert file["errors"] == [f"{cut}: the {compression} data ends inside a {word} (cut off?)"]
        assert not file["extra"]["complete"]
    done = file["extra"]["lines_done"]
    assert 0 < done < 4000
    stored = [row.id for row in stored_rows(env["SENTPIPE_DATABASE_URL"])]
    assert sorted(stored) == sorted("t1_" + json.loads(line)["id"] for line in lines[:done])
    assert dead_letters(tmp_path / "data") == []
    assert checkpoints(tmp_path / "data")["RC_2016-03.dump"]["complete"] is False


def test_ingest_ndjson_reads_compressed_input_and_keeps_a_cut_files_complete_lines(
    tmp_path: Path,
) -> None:
    env = data_env(tmp_path)
    content = "".join(ndjson_line(n) + "\n" for n in range(5000)).encode()
    whole = gzip.compress(content, mtime=0)
    (tmp_path / "events.gz").write_bytes(whole)
    result = invoke("ingest", "ndjson", str(tmp_path / "events.gz"), "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 5000
    piped = invoke("ingest", "ndjson", "-", "--json", env=env, input=bz2.compress(content))
    assert json.loads(piped.stdout)["duplicates"] == 5000

    (tmp_path / "cut.gz").write_bytes(whole[: len(whole) // 2])
    cut = invoke("ingest", "ndjson", str(tmp_path / "cut.gz"), "--json", env=env)
    assert cut.exit_code == 1
    data = json.loads(cut.stdout)
    assert data["errors"] == [
        f"{tmp_path / 'cut.gz'}: the gzip data ends inside a member (cut off?)"
    ]
    assert 0 < data["valid"] == data["duplicates"] < 5000


@pytest.mark.parametrize(
    "content",
    [b"", b"\n\n  \r\n", gzip.compress(b""), lzma.compress(b"\n")],
    ids=["empty", "blank", "empty-gzip", "blank-xz"],
)
def test_an_empty_file_is_nothing_to_do(tmp_path: Path, content: bytes) -> None:
    env = data_env(tmp_path)
    path = tmp_path / "RS_2015-03.zst"
    path.write_bytes(content)
    result = invoke("ingest", "reddit-dump", str(path), "--json", env=env)
    assert result.exit_code == 0, result.output
    (file,) = json.loads(result.stdout)["files"]
    assert file["warnings"] == ["RS_2015-03.zst is empty: nothing to load"]
    assert file["extra"]["complete"] and file["fetched"] == 0
    ndjson = invoke("ingest", "ndjson", str(path), "--json", env=env)
    assert ndjson.exit_code == 0 and json.loads(ndjson.stdout)["fetched"] == 0


def test_a_file_with_no_valid_record_fails_and_is_not_complete(tmp_path: Path) -> None:
    env = data_env(tmp_path)
    path = tmp_path / "export.ndjson"
    path.write_bytes(b'{"name": "a"}\n{"name": "b"}\nnot json\n')
    for _attempt in (1, 2):  # not "already loaded" the second time
        result = invoke("ingest", "reddit-dump", str(path), "--json", env=env)
        assert result.exit_code == 1, result.output
        (file,) = json.loads(result.stdout)["files"]
        assert file["errors"] == [
            "export.ndjson: no line was a valid record (3 dead-lettered): is it a Reddit dump?"
        ]
        assert not file["extra"]["complete"] and file["extra"]["lines_done"] == 0
        assert not file["extra"]["already_complete"]
    assert checkpoints(tmp_path / "data")["export.ndjson"] == {
        "path": str(path.resolve()),
        "size": path.stat().st_size,
        "lines_done": 0,
        "complete": False,
    }
    plain = invoke("ingest", "reddit-dump", str(path), env=env)
    assert (
        "export.ndjson: no line was a valid record (3 dead-lettered): is it a Reddit dump?"
        in plain.output
    )
    ndjson = invoke("ingest", "ndjson", str(path), "--json", env=env)
    assert ndjson.exit_code == 1
    assert json.loads(ndjson.stdout)["errors"] == [
        f"{path}: no line was a valid record (3 dead-lettered): is it NDJSON in event shape?"
    ]
    # One valid record is enough: the bad lines are bad records of a good file.
    path.write_bytes(path.read_bytes() + _submissions(1, 1))
    result = invoke("ingest", "reddit-dump", str(path), "--json", env=env)
    assert result.exit_code == 0 and json.loads(result.stdout)["files"][0]["extra"]["complete"]


def test_dead_letters_beside_records_the_filters_dropped_are_no_verdict(tmp_path: Path) -> None:
    env = data_env(tmp_path)
    path = tmp_path / "RS_2016-01.ndjson"
    path.write_bytes(_submissions(5, 1) + b"{broken rust\n")  # past the quick filter
    result = invoke("ingest", "reddit-dump", str(path), "-s", "rust", "--json", env=env)
    assert result.exit_code == 0, result.output
    (file,) = json.loads(result.stdout)["files"]
    assert (file["valid"], file["invalid"], file["extra"]["filtered"]) == (0, 1, 5)
    assert file["extra"]["complete"]
