"""A folder as a corpus: scanning (order, hidden entries, symlinks) and opening it as a source."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexer.errors import InvalidRequestError
from indexer.sources import folder as corpus
from indexer.sources.base import CorpusFile
from indexer.sources.folder import scan_corpus


def write(path: Path, content: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def relpaths(root: Path) -> list[str]:
    return [found.relpath for found in scan_corpus(root)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    write(root / "b.png")
    write(root / "a" / "z.jpg")
    write(root / "a" / "deeper" / "IM0001")  # no extension
    write(root / "a-b.txt")
    write(root / ".hidden.png")
    write(root / ".cache" / "thumb.png")
    write(root / "a" / ".DS_Store")
    write(root / "c" / "notes.md", "hello")
    return root


def test_scan_is_recursive_sorted_and_skips_hidden(tree: Path) -> None:
    assert relpaths(tree) == ["a/deeper/IM0001", "a/z.jpg", "a-b.txt", "b.png", "c/notes.md"]
    assert relpaths(tree) == relpaths(tree)  # deterministic


def test_scan_reports_absolute_path_size_and_mtime(tree: Path) -> None:
    os.utime(tree / "c" / "notes.md", (1_600_000_000, 1_600_000_000))
    found = {item.relpath: item for item in scan_corpus(tree)}
    notes = found["c/notes.md"]
    assert isinstance(notes, CorpusFile)
    assert notes.path.is_absolute() and notes.path == (tree / "c" / "notes.md").absolute()
    assert notes.size == 5
    assert notes.mtime == 1_600_000_000


def test_scan_relative_root(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree.parent)
    found = list(scan_corpus(Path("corpus")))
    assert found[0].path == tree / "a" / "deeper" / "IM0001"
    assert found[0].relpath == "a/deeper/IM0001"


def test_symlink_cycle_is_skipped(tree: Path) -> None:
    (tree / "a" / "deeper" / "loop").symlink_to(tree / "a", target_is_directory=True)
    (tree / "back_to_root").symlink_to(tree, target_is_directory=True)
    assert relpaths(tree) == ["a/deeper/IM0001", "a/z.jpg", "a-b.txt", "b.png", "c/notes.md"]


def test_symlinks_to_outside_files_and_folders_are_followed(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "scan.dcm")
    write(outside / "sub" / "more.png")
    (outside / "sub" / "up").symlink_to(outside, target_is_directory=True)  # cycle out there
    (tree / "linked").symlink_to(outside, target_is_directory=True)
    (tree / "linked_again").symlink_to(outside, target_is_directory=True)  # entered once
    (tree / "single.png").symlink_to(outside / "scan.dcm")
    (tree / "dangling.png").symlink_to(tmp_path / "missing.png")
    found = relpaths(tree)
    assert found == [
        "a/deeper/IM0001",
        "a/z.jpg",
        "a-b.txt",
        "b.png",
        "c/notes.md",
        "linked/scan.dcm",
        "linked/sub/more.png",
        "single.png",
    ]
    single = next(item for item in scan_corpus(tree) if item.relpath == "single.png")
    assert single.size == 1
    assert single.path == tree / "single.png"


def test_links_inside_the_corpus_are_not_scanned_twice(tree: Path) -> None:
    (tree / "0_alias").symlink_to(tree / "c", target_is_directory=True)
    assert "c/notes.md" in relpaths(tree)
    assert not any(path.startswith("0_alias") for path in relpaths(tree))


def test_special_files_are_skipped(tree: Path) -> None:
    os.mkfifo(tree / "pipe")
    assert "pipe" not in relpaths(tree)


def test_unreadable_subfolder_is_skipped(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod does not stop root, so the refusal is simulated
    real_scandir = os.scandir
    locked = tree / "a"

    def scandir(path: os.PathLike[str] | str) -> object:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(corpus.os, "scandir", scandir)
    assert relpaths(tree) == ["a-b.txt", "b.png", "c/notes.md"]


def test_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="not found"):
        scan_corpus(tmp_path / "nope")
    with pytest.raises(InvalidRequestError, match="not a folder"):
        scan_corpus(write(tmp_path / "file.png"))


def test_empty_corpus(tmp_path: Path) -> None:
    assert relpaths(tmp_path) == []
