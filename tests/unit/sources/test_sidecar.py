"""Metadata sidecars (CSV, TSV, JSON Lines): normalised fields, key columns, errors by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.errors import MetadataFileError
from indexer.sources.sidecar import load_metadata
from tests.support.helpers import SAMPLE_DIR as SAMPLE
from tests.unit.sources.test_folder import relpaths, write


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
