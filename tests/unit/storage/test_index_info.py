"""The typed ``index_info.json`` record: exact round trip, validation, defaults of older files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from indexer.errors import IndexCorruptError
from indexer.storage.folder import IndexFolder, new_info
from indexer.storage.info import EncoderRecord, IndexInfo
from indexer.storage.verify import verify_index
from tests.support.helpers import SAMPLE_COUNT, run_cli


def _raw(index_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(IndexFolder(index_dir).info_path.read_text())
    return data


def _copy_with_info(sample_index_dir: Path, tmp_path: Path, data: object) -> IndexFolder:
    folder = IndexFolder(tmp_path / "index")
    shutil.copytree(sample_index_dir, folder.path)
    folder.info_path.write_text(json.dumps(data))
    return folder


def test_a_real_info_file_round_trips_exactly(sample_index_dir: Path, tmp_path: Path) -> None:
    raw = _raw(sample_index_dir)
    info = IndexInfo.from_json(raw)
    assert info.to_json() == raw
    assert info.count == SAMPLE_COUNT and info.encoder.name == "biomedclip"
    rewritten = IndexFolder(tmp_path)
    rewritten.write_info(IndexFolder(sample_index_dir).read_info())
    assert rewritten.info_path.read_bytes() == IndexFolder(sample_index_dir).info_path.read_bytes()


def test_a_new_unpublished_info_round_trips_without_trained_count(tmp_path: Path) -> None:
    encoder = EncoderRecord(name="synthetic", model="none", fingerprint="x", dim=8)
    data = new_info(encoder, tmp_path, "hnsw").to_json()
    assert "trained_count" not in data
    assert data["encoder"] == {
        "dim": 8,
        "family": "open_clip",
        "fingerprint": "x",
        "model": "none",
        "name": "synthetic",
        "random_weights": False,
    }
    assert data["index_type_requested"] == "hnsw" and data["generation"] == 0
    assert IndexInfo.from_json(data).to_json() == data


@pytest.mark.parametrize("path", ["encoder", "dim", "generation", "encoder.fingerprint"])
def test_a_missing_required_field_is_reported(
    sample_index_dir: Path, tmp_path: Path, path: str
) -> None:
    data = _raw(sample_index_dir)
    *parents, key = path.split(".")
    holder = data
    for parent in parents:
        holder = holder[parent]
    del holder[key]
    folder = _copy_with_info(sample_index_dir, tmp_path, data)
    with pytest.raises(IndexCorruptError) as caught:
        folder.read_info()
    assert caught.value.message == f"{folder.info_path} lacks {path!r}"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("dim", "128", "'dim' must be an integer, not '128'"),
        ("generation", 1.5, "'generation' must be an integer, not 1.5"),
        ("count", True, "'count' must be an integer, not True"),
        ("index_type", None, "'index_type' must be a string, not None"),
        ("updated_at", 5, "'updated_at' must be a string, not 5"),
        ("versions", {"python": 3}, "'versions' must map names to strings"),
        ("encoder.random_weights", "yes", "'encoder.random_weights' must be true or false"),
        ("encoder.model", ["m"], "'encoder.model' must be a string, not ['m']"),
    ],
)
def test_an_ill_typed_field_is_reported(
    sample_index_dir: Path, tmp_path: Path, path: str, value: object, expected: str
) -> None:
    data = _raw(sample_index_dir)
    *parents, key = path.split(".")
    holder = data
    for parent in parents:
        holder = holder[parent]
    holder[key] = value
    folder = _copy_with_info(sample_index_dir, tmp_path, data)
    with pytest.raises(IndexCorruptError) as caught:
        folder.read_info()
    assert caught.value.message.startswith(f"{folder.info_path}: {expected}")


@pytest.mark.parametrize("data", [[], "index", {"encoder": "biomedclip", "dim": 8}])
def test_a_value_that_is_not_an_object_is_reported(data: object) -> None:
    with pytest.raises(IndexCorruptError, match="is not a JSON object"):
        IndexInfo.from_json(data)


def test_an_older_file_without_optional_fields_gets_the_defaults() -> None:
    encoder = {"name": "biomedclip", "model": "m", "fingerprint": "f", "dim": 8}
    info = IndexInfo.from_json({"encoder": encoder, "dim": 8, "generation": 3})
    assert info.encoder == EncoderRecord("biomedclip", "m", "f", 8, random_weights=False)
    # written before encoder families existed: every such index was built by open_clip
    assert info.encoder.family == "open_clip"
    assert (info.dim, info.generation) == (8, 3)
    assert info.format_version == 1  # the first format did not write its number
    assert (info.written_by, info.checksums, info.vector_rows) == (None, {}, None)
    assert (info.metric, info.index_type, info.index_type_requested) == (
        "inner_product",
        "flat",
        "auto",
    )
    assert (info.search_param, info.trained_count, info.count, info.failed) == (0, None, 0, 0)
    assert (info.corpus_root, info.created_at, info.updated_at) == (None, None, None)
    assert info.versions == {}
    with pytest.raises(IndexCorruptError, match="records no corpus_root"):
        info.corpus_path()


def test_an_older_index_folder_still_verifies_and_describes(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    data = _raw(sample_index_dir)
    for key in ("format_version", "metric", "index_type", "index_type_requested"):
        del data[key]
    for key in ("search_param", "trained_count", "created_at", "updated_at", "versions"):
        del data[key]
    del data["encoder"]["random_weights"]
    folder = _copy_with_info(sample_index_dir, tmp_path, data)
    assert verify_index(folder.path) == []
    shown = json.loads(run_cli("info", folder.path, "--json"))
    assert shown["count"] == SAMPLE_COUNT
    assert (shown["index_type"], shown["metric"], shown["search_param"]) == (
        "flat",
        "inner_product",
        0,
    )
    assert shown["encoder"]["random_weights"] is False
    assert shown["updated_at"] is None and shown["versions"] == {}
