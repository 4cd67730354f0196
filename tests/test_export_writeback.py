"""The export's file writer asks the kernel to write each 16 MB to disk as it goes
(export/__init__.py `_WritebackFile`): the bytes must arrive intact and in order, for
plain and gzip targets, and a failure must still leave no file behind."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from sentiment_pipeline.export import WRITEBACK_BYTES, atomic_output


def _blocks(total: int) -> list[bytes]:
    """Distinct blocks of uneven sizes (so writeback ranges fall mid-block)."""
    blocks, size, i = [], 0, 0
    while size < total:
        block = hashlib.sha256(str(i).encode()).digest() * (1000 + i % 7 * 311)
        blocks.append(block)
        size += len(block)
        i += 1
    return blocks


@pytest.mark.parametrize("name", ["big.csv", "big.csv.gz"])
def test_bytes_past_several_writeback_ranges_arrive_intact(tmp_path: Path, name: str) -> None:
    blocks = _blocks(3 * WRITEBACK_BYTES + 12345)
    target = tmp_path / name
    with atomic_output(target) as out:
        for block in blocks:
            out.write(block)
    data = target.read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    assert data == b"".join(blocks)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no .partial left


def test_a_failure_after_writeback_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "big.csv"
    with pytest.raises(RuntimeError), atomic_output(target) as out:
        for block in _blocks(2 * WRITEBACK_BYTES):
            out.write(block)
        raise RuntimeError("connection lost")
    assert list(tmp_path.iterdir()) == []
