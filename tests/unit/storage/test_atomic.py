"""Atomic file replacement, durable or not."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from indexer.storage.atomic import write_atomic


@pytest.mark.parametrize("durable", [True, False])
def test_replaces_the_file_and_leaves_nothing_else(tmp_path: Path, durable: bool) -> None:
    target = tmp_path / "info.json"
    write_atomic(target, b"first", durable=durable)
    write_atomic(target, b"second", durable=durable)
    assert target.read_bytes() == b"second"
    assert os.listdir(tmp_path) == ["info.json"]


def test_a_reader_of_the_old_file_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "index.faiss"
    target.write_bytes(b"old content")
    with open(target, "rb") as reader:
        write_atomic(target, b"new", durable=True)
        # a rename swaps the file; rewriting it in place would change what the reader sees
        assert reader.read() == b"old content"
    assert target.read_bytes() == b"new"


def test_a_callback_writes_the_file_by_path(tmp_path: Path) -> None:
    target = tmp_path / "index.faiss"
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"written by path")

    write_atomic(target, write, durable=True)
    assert target.read_bytes() == b"written by path"
    assert not seen[0].exists()


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "index.faiss"
    target.write_bytes(b"old")

    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(target, fail, durable=True)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["index.faiss"]


def test_folders_are_created_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "ab" / "cd" / "x.jpg"
    with pytest.raises(FileNotFoundError):
        write_atomic(target, b"jpeg", durable=False)
    assert not target.parent.exists()
    write_atomic(target, b"jpeg", durable=False, make_parents=True)
    assert target.read_bytes() == b"jpeg"


def test_permissions_follow_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "x.jpg"
    previous = os.umask(0o027)
    try:
        write_atomic(target, b"jpeg", durable=False)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
