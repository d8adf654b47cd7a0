"""Corpus scanning (order, hidden entries, symlinks) and metadata sidecars (CSV, JSONL)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from indexer.errors import InvalidRequestError, MetadataFileError
from indexer.sources import folder as corpus
from indexer.sources.folder import CorpusFile, load_metadata, scan_corpus
from tests.support.helpers import SAMPLE_DIR as SAMPLE


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


def test_sample_corpus_matches_its_metadata() -> None:
    metadata = load_metadata(SAMPLE / "metadata.csv")
    found = set(relpaths(SAMPLE))
    assert len(metadata) == 32
    assert set(metadata) <= found
    row = metadata["images/dcm_us_obstetric.dcm"]
    assert row["modality"] == "US"
    assert row["format"] == "dicom"
    assert "file" not in row
    assert all(isinstance(value, str) and value for value in row.values())
    assert all(entry.get("license") and entry.get("attribution") for entry in metadata.values())


def test_csv_header_and_values_are_normalised(tmp_path: Path) -> None:
    sidecar = write(
        tmp_path / "meta.csv",
        "\ufeffFile Name,Path , Body Part,Label,Count\n"
        "ignored,./images/a.png,chest, pneumonia ,7\n"
        'x,images\\b.png,,"two, words",\n'
        "\n"
        "y,././c.dcm,head\n",
    )
    assert load_metadata(sidecar) == {
        "images/a.png": {
            "file_name": "ignored",
            "body_part": "chest",
            "label": "pneumonia",
            "count": "7",
        },
        "images/b.png": {"file_name": "x", "label": "two, words"},
        "c.dcm": {"file_name": "y", "body_part": "head"},
    }


def test_key_column_preference(tmp_path: Path) -> None:
    sidecar = write(tmp_path / "m.csv", "filename,file,label\nf1,one.png,a\n")
    assert load_metadata(sidecar) == {"one.png": {"filename": "f1", "label": "a"}}
    tsv = write(tmp_path / "m.tsv", "relpath\tlabel\nsub/two.png\tb c\n")
    assert load_metadata(tsv) == {"sub/two.png": {"label": "b c"}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("label,caption\nx,y\n", "line 1: no file column"),
        ("path,label\na.png,x\n./a.png,y\n", "line 3: 'a.png' is already described on line 2"),
        ("path,label\na.png,x\n,y\n", "line 3: empty 'path'"),
        ("path,label\na.png,x,extra\n", "line 2: 3 values"),
        ("path,Label,label\na.png,x,y\n", "line 1: column 'label' appears twice"),
        ("path\n/etc/passwd\n", "line 2: path '/etc/passwd' must be relative"),
        ("path\n../secret.png\n", "line 2: path '../secret.png' leaves the corpus folder"),
        ('path,caption\na.png,"never closed\n', "line 2"),
    ],
)
def test_csv_errors_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    sidecar = write(tmp_path / "meta.csv", content)
    with pytest.raises(MetadataFileError) as caught:
        load_metadata(sidecar)
    assert "meta.csv" in caught.value.message
    assert message in caught.value.message


def test_csv_line_numbers_count_multi_line_values(tmp_path: Path) -> None:
    sidecar = write(tmp_path / "meta.csv", 'path,caption\na.png,"two\nlines"\na.png,again\n')
    with pytest.raises(MetadataFileError, match="line 4: 'a.png' is already described on line 2"):
        load_metadata(sidecar)


def test_jsonl_keeps_scalar_types_and_encodes_nested_values(tmp_path: Path) -> None:
    lines = [
        {"path": "./scans/a.dcm", "Age Group": "adult", "slices": 12, "score": 0.5, "ok": True},
        {"file": "b.png", "tags": ["x", "y"], "extra": {"k": 1}, "empty": "", "none": None},
    ]
    text = "\ufeff" + "\n".join(json.dumps(line) for line in lines) + "\n\n"
    for suffix in (".jsonl", ".ndjson", ".json"):
        sidecar = write(tmp_path / f"meta{suffix}", text)
        assert load_metadata(sidecar) == {
            "scans/a.dcm": {"age_group": "adult", "slices": 12, "score": 0.5, "ok": True},
            "b.png": {"tags": '["x", "y"]', "extra": '{"k": 1}'},
        }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"path": "a.png"}\n{"path": "b.png",\n', "line 2: malformed JSON"),
        ('{"path": "a.png"}\n["b.png"]\n', "line 2: expected a JSON object"),
        ('{"label": "x"}\n', "line 1: no file field"),
        ('{"path": 7}\n', "line 1: 'path' must be a string"),
        (
            '{"path": "a.png"}\n\n{"path": "a.png"}\n',
            "line 3: 'a.png' is already described on line 1",
        ),
        ('{"path": "a.png", "score": NaN}\n', "line 1: malformed JSON"),
        ('{"path": "a.png", "Label": 1, "label": 2}\n', "line 1: field 'label' appears twice"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    sidecar = write(tmp_path / "meta.jsonl", content)
    with pytest.raises(MetadataFileError) as caught:
        load_metadata(sidecar)
    assert message in caught.value.message


def test_unusable_metadata_files(tmp_path: Path) -> None:
    with pytest.raises(MetadataFileError, match="not found"):
        load_metadata(tmp_path / "missing.csv")
    with pytest.raises(MetadataFileError, match="unknown metadata file type"):
        load_metadata(write(tmp_path / "meta.xlsx"))
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("path,label\na.png,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(MetadataFileError, match="not UTF-8"):
        load_metadata(latin1)
    assert load_metadata(write(tmp_path / "empty.csv", "")) == {}
    assert load_metadata(write(tmp_path / "header_only.csv", "path,label\n")) == {}
