"""Damaged and foreign index folders: checksums, verify --deep, format versions, a service that
refuses a damaged new version and goes on serving the previous one."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.errors import IndexFormatError
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.storage.folder import (
    FAISS_FILE,
    GROUPS_DIR,
    NULL_SCORES_FILE,
    VECTORS_FILE,
    IndexFolder,
)
from indexer.storage.info import FORMAT_VERSION, IndexInfo
from indexer.storage.vector_blocks import VECTOR_BLOCKS_FILE
from indexer.storage.verify import verify_index
from indexer.versions import medsearch_version
from search_api import create_app
from tests.support.helpers import SAMPLE_DIR, SAMPLE_IMAGES, SAMPLE_METADATA, run_cli


def _copy(sample_index_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the sample index, its write-ahead log folded into meta.sqlite."""
    copy = tmp_path / "index"
    shutil.copytree(sample_index_dir, copy)
    with sqlite3.connect(copy / "meta.sqlite") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return copy


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


_ON_CPU = ("--device", "cpu", "--precision", "fp32")


def _index_args(corpus: Path, index_dir: Path) -> list[str | Path]:
    return ["index", corpus, "--index", index_dir, *_ON_CPU, "--quiet"]


def _raw_info(index_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((index_dir / "index_info.json").read_text())
    return data


def _write_raw_info(index_dir: Path, data: dict[str, Any]) -> None:
    (index_dir / "index_info.json").write_text(json.dumps(data))


def test_a_published_index_records_checksums_and_passes_the_deep_check(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    info = IndexFolder(sample_index_dir).read_info()
    assert info.format_version == FORMAT_VERSION == 4
    assert info.written_by == medsearch_version()
    # the ANN index, the vectors and their block digests, the null scores and the group vectors
    # of the sample DICOMs' series and studies
    grouped = {name for name in info.checksums if name.startswith(f"{GROUPS_DIR}/")}
    assert set(info.checksums) - grouped == {
        FAISS_FILE,
        VECTORS_FILE,
        VECTOR_BLOCKS_FILE,
        NULL_SCORES_FILE,
    }
    assert {name.split("/")[1].split("-")[0] for name in grouped} == {"series_key", "study_key"}
    assert all(value.startswith("sha256:") for value in info.checksums.values())
    assert info.vector_rows == info.count  # ids 1..32, none deleted
    code, output = _invoke("verify", _copy(sample_index_dir, tmp_path), "--deep")
    assert (code, output.strip().endswith("consistent")) == (0, True), output


def _images_page_header(path: Path) -> int:
    """The offset of the b-tree page header of the root page of the images table."""
    with closing(sqlite3.connect(path)) as db:
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'images'").fetchone()
    page_size = int.from_bytes(path.read_bytes()[16:18], "big")
    return (root - 1) * page_size + (100 if root == 1 else 0)


@pytest.mark.parametrize("name", [FAISS_FILE, VECTORS_FILE, "meta.sqlite"])
def test_deep_verify_names_a_file_with_a_flipped_byte(
    sample_index_dir: Path, tmp_path: Path, name: str
) -> None:
    index_dir = _copy(sample_index_dir, tmp_path)
    target = index_dir / name
    # SQLite's integrity check finds damaged structure (a page header), not every changed value
    offset = _images_page_header(target) if name == "meta.sqlite" else target.stat().st_size // 2
    _flip_byte(target, offset)
    assert _invoke("verify", index_dir)[0] == (1 if name == "meta.sqlite" else 0)
    code, output = _invoke("verify", index_dir, "--deep")
    assert code == 1, output
    assert f"problem: {name}" in output, output
    assert "Traceback" not in output


def test_damaged_vectors_stop_the_next_run_and_a_damaged_ann_index_is_rebuilt(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = _copy(sample_index_dir, tmp_path)
    index = [*_index_args(SAMPLE_DIR, index_dir), "--metadata", SAMPLE_METADATA]
    _flip_byte(index_dir / FAISS_FILE, (index_dir / FAISS_FILE).stat().st_size // 2)
    before = IndexFolder(index_dir).read_info()
    run_cli(*index)
    after = IndexFolder(index_dir).read_info()
    assert after.generation == before.generation + 1  # rebuilt, not laundered
    assert _invoke("verify", index_dir, "--deep")[0] == 0

    _flip_byte(index_dir / VECTORS_FILE, 7)
    code, output = _invoke(*index)
    assert code == 1
    assert output.startswith(f"Error: {VECTORS_FILE} does not match the checksum"), output
    assert "--index NEW_FOLDER" in output
    assert IndexFolder(index_dir).read_info() == after


def test_a_format_1_index_is_read_and_brought_up_to_date_on_the_next_run(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = _copy(sample_index_dir, tmp_path)
    data = _as_format_1(_raw_info(index_dir))
    _write_raw_info(index_dir, data)
    assert _invoke("verify", index_dir)[0] == 0
    code, output = _invoke("verify", index_dir, "--deep")
    assert code == 1 and "records no checksums (format 1)" in output, output
    Retriever.open(
        Settings(index_dir=index_dir, device="cpu", precision="fp32")
    ).close()  # still served

    run_cli(*_index_args(SAMPLE_DIR, index_dir), "--metadata", SAMPLE_METADATA)
    migrated = IndexFolder(index_dir).read_info()
    assert migrated.format_version == FORMAT_VERSION
    assert migrated.generation == data["generation"] + 1
    assert {name for name in migrated.checksums if "/" not in name} == {
        FAISS_FILE,
        VECTORS_FILE,
        VECTOR_BLOCKS_FILE,
        NULL_SCORES_FILE,
    }
    assert _invoke("verify", index_dir, "--deep")[0] == 0


@pytest.mark.parametrize("damage", ["format 1", "flipped vectors byte"])
def test_deep_verify_makes_every_check_of_plain_verify(
    sample_index_dir: Path, tmp_path: Path, damage: str
) -> None:
    index_dir = _copy(sample_index_dir, tmp_path)
    data = _raw_info(index_dir)
    data["count"] += 1  # a problem plain verify finds
    if damage == "format 1":
        data = _as_format_1(data)
    else:
        _flip_byte(index_dir / VECTORS_FILE, 7)
    _write_raw_info(index_dir, data)
    plain = verify_index(index_dir)
    deep = verify_index(index_dir, deep=True)
    assert any("count=" in problem for problem in plain), plain
    assert set(plain) < set(deep), deep  # the damage besides


def _as_format_1(data: dict[str, Any]) -> dict[str, Any]:
    """Info data as MedSearch wrote it before checksums were recorded."""
    for key in ("checksums", "vector_rows", "written_by"):
        del data[key]
    return {**data, "format_version": 1}


def test_a_newer_format_is_refused_naming_the_version_that_reads_it(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = _copy(sample_index_dir, tmp_path)
    data = _raw_info(index_dir)
    data.update(format_version=FORMAT_VERSION + 1, written_by="9.4.0", new_field={"x": 1})
    _write_raw_info(index_dir, data)
    code, output = _invoke("info", index_dir)
    assert code == 1
    newer = FORMAT_VERSION + 1
    assert output.startswith(f"Error: {index_dir / 'index_info.json'} has format {newer}, written")
    assert "MedSearch 9.4.0" in output and f"reads formats 1 to {FORMAT_VERSION}" in output
    with pytest.raises(IndexFormatError, match="written by MedSearch 9.4.0"):
        Retriever.open(Settings(index_dir=index_dir, device="cpu"))
    code, output = _invoke("verify", index_dir)
    assert code == 1 and "MedSearch 9.4.0" in output


def test_a_format_older_than_readable_is_refused_with_the_rebuild_command() -> None:
    data = {"format_version": 0, "corpus_root": "/data/xrays", "dim": 8, "generation": 1}
    with pytest.raises(IndexFormatError) as caught:
        IndexInfo.from_json(data)
    assert "medsearch index /data/xrays --index NEW_INDEX_FOLDER" in caught.value.message


def _small_index(tmp_path: Path, tiny_model_dir: Path, names: list[str]) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in names:
        shutil.copy(SAMPLE_IMAGES / name, corpus / name)
    index_dir = tmp_path / "index"
    run_cli(*_index_args(corpus, index_dir), "--model", tiny_model_dir)
    return corpus, index_dir


def _total(client: Any) -> int:
    response = client.post("/api/search", json={"text": "chest x-ray", "k": 2})
    assert response.status_code == 200, response.get_json()
    total: int = response.get_json()["total"]
    return total


@pytest.mark.parametrize("damaged", [FAISS_FILE, VECTORS_FILE])
def test_the_service_refuses_a_damaged_new_version_and_keeps_the_previous(
    tmp_path: Path, tiny_model_dir: Path, caplog: pytest.LogCaptureFixture, damaged: str
) -> None:
    corpus, index_dir = _small_index(tmp_path, tiny_model_dir, ["cxr_01.jpg", "cxr_02.jpg"])
    settings = Settings(index_dir=index_dir, device="cpu", precision="fp32", reload_interval=0)
    app = create_app(settings)
    client = app.test_client()
    assert _total(client) == 2

    shutil.copy(SAMPLE_IMAGES / "cxr_03.jpg", corpus / "cxr_03.jpg")
    run_cli(*_index_args(corpus, index_dir))
    # the newly published row (id 3) or ANN index is damaged before the service sees it
    row_bytes = IndexFolder(index_dir).read_info().dim * 2
    offset = 2 * row_bytes + 1 if damaged == VECTORS_FILE else -1
    target = index_dir / damaged
    _flip_byte(target, offset % target.stat().st_size)
    with caplog.at_level(logging.WARNING):
        assert [_total(client) for _ in range(3)] == [2, 2, 2]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # refused once, not at every request
    assert "its new version cannot be loaded" in warnings[0] and damaged in warnings[0]

    if damaged == FAISS_FILE:  # the next run rebuilds it, and the service takes it
        run_cli(*_index_args(corpus, index_dir))
        assert _total(client) == 3
