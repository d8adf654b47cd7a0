"""The sample corpus indexed by the real CLI with a tiny real model ("done when" of the engine)."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pydicom
import pytest

from indexer.ann import exact_top_k
from indexer.imaging.decode import load_image
from indexer.search.retriever import Retriever
from indexer.storage.folder import IndexFolder
from indexer.storage.modality import DICOM_MODALITY_CODES
from tests.support.helpers import (
    SAMPLE_COUNT,
    SAMPLE_DIR,
    SAMPLE_IMAGES,
    SAMPLE_METADATA,
    run_cli,
)
from tests.unit.imaging.test_dicom import PHI_KEYWORDS


def test_every_sample_file_is_indexed(sample_index_dir: Path) -> None:
    info = json.loads(run_cli("info", sample_index_dir, "--json"))
    assert info["count"] == SAMPLE_COUNT
    assert info["failed"] == 0
    assert info["dim"] == 128
    assert info["index_type"] == "flat"
    assert info["encoder"]["name"] == "biomedclip"
    assert info["encoder"]["random_weights"] is True
    db = sqlite3.connect(sample_index_dir / "meta.sqlite")
    paths = {p for (p,) in db.execute("SELECT path FROM images")}
    assert paths == {f"images/{p.name}" for p in SAMPLE_IMAGES.iterdir()}


def test_sidecar_and_dicom_fields_are_stored(retriever: Retriever) -> None:
    ids = retriever.store.ids()
    records = retriever.store.get_many(ids.tolist())
    by_path = {r.path: r for r in records.values()}
    cxr = by_path["images/cxr_01.jpg"]
    assert cxr.caption and cxr.caption.startswith("Chest X-ray")
    assert cxr.modality == "CR"
    assert cxr.extra["license"] == "CC BY-SA"
    assert cxr.format == "jpeg"
    ct = by_path["images/dcm_ct_small.dcm"]
    assert ct.format == "dicom"
    assert ct.extra["rows"] == 128  # measured from the DICOM, not the sidecar


def test_the_sample_names_each_modality_by_its_dicom_code() -> None:
    with SAMPLE_METADATA.open(encoding="utf-8", newline="") as rows:
        modality = {row["file"]: row["modality"] for row in csv.DictReader(rows)}
    assert set(modality.values()) <= DICOM_MODALITY_CODES
    for path in sorted(SAMPLE_IMAGES.glob("*.dcm")):
        own = pydicom.dcmread(path, stop_before_pixels=True).Modality
        assert modality[f"images/{path.name}"] == own, path.name


def test_every_mr_of_the_sample_is_found_under_mr(retriever: Retriever) -> None:
    mr_files = {f"images/{p.name}" for p in SAMPLE_IMAGES.glob("dcm_mr_*.dcm")}
    assert len(mr_files) == 4
    assert dict(retriever.facets()["modality"])["MR"] == len(mr_files)
    found = retriever.search(text="MRI", k=SAMPLE_COUNT, filters={"modality": "MR"})
    assert {hit.path for hit in found.hits} == mr_files


def _phi_values() -> set[str]:
    values: set[str] = set()
    for path in sorted(SAMPLE_IMAGES.glob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in PHI_KEYWORDS:
            value = str(ds.get(keyword, "") or "").strip()
            if len(value) >= 4:  # shorter values ("0", "1") match by chance
                values.add(value)
    return values


def test_no_patient_identifier_reaches_the_database(sample_index_dir: Path) -> None:
    phi = _phi_values()
    assert len(phi) >= 10, "the sample DICOMs should carry identifiers to test against"
    db = sqlite3.connect(sample_index_dir / "meta.sqlite")
    dump = "\n".join(db.iterdump())
    # whole values only: a short number such as "4900" also occurs inside an mtime's digits
    leaked = sorted(v for v in phi if re.search(rf"(?<![\w.]){re.escape(v)}(?![\w])", dump))
    assert not leaked


@pytest.mark.parametrize("name", ["cxr_08.jpg", "dcm_mr_multiframe.dcm"])
def test_search_by_image_file_from_the_cli(sample_index_dir: Path, name: str) -> None:
    out = run_cli(
        "search",
        sample_index_dir,
        "--image",
        SAMPLE_IMAGES / name,
        "-k",
        "3",
        "--json",
        "--device",
        "cpu",
        "--precision",
        "fp32",
    )
    results = json.loads(out)["results"]
    assert results[0]["path"] == f"images/{name}"
    assert results[0]["score"] == pytest.approx(1.0, abs=2e-3)


def test_each_indexed_image_finds_itself_first(retriever: Retriever) -> None:
    for path in sorted(SAMPLE_IMAGES.iterdir()):
        decoded = load_image(path, draft_size=retriever.encoder.draft_size)
        hits = retriever.search(image=decoded.image, k=3).hits
        assert hits[0].path == f"images/{path.name}", path.name
        assert hits[0].score == pytest.approx(1.0, abs=2e-3), path.name
        assert hits[0].score > hits[1].score


def test_search_json_shape(sample_index_dir: Path) -> None:
    out = json.loads(
        run_cli(
            "search",
            sample_index_dir,
            "--text",
            "chest x-ray",
            "-k",
            "5",
            "--json",
            "--device",
            "cpu",
            "--precision",
            "fp32",
        )
    )
    assert set(out) >= {"results", "timings_ms"}
    assert len(out["results"]) == 5
    for hit in out["results"]:
        assert set(hit) >= {"id", "path", "score", "caption", "metadata"}
    scores = [h["score"] for h in out["results"]]
    assert scores == sorted(scores, reverse=True)


def test_faiss_results_equal_brute_force(retriever: Retriever) -> None:
    rng = np.random.default_rng(0)
    ids = retriever.store.ids()
    vectors = retriever.vectors_for(ids.tolist())
    for _ in range(10):
        query = rng.standard_normal(int(vectors.shape[1])).astype(np.float32)
        query /= np.linalg.norm(query)
        result = retriever.search(vector=query, k=10)
        truth_scores, truth_ids = exact_top_k(vectors, ids, query[None, :], 10)
        assert [h.id for h in result.hits] == truth_ids[0].tolist()
        np.testing.assert_allclose([h.score for h in result.hits], truth_scores[0], atol=1e-5)


def test_rerun_adds_nothing(sample_index_dir: Path, tmp_path: Path) -> None:
    before = IndexFolder(sample_index_dir).read_info()
    out = json.loads(
        run_cli(
            "index",
            SAMPLE_DIR,
            "--index",
            sample_index_dir,
            "--json",
            "--metadata",
            SAMPLE_DIR / "metadata.csv",
        )
    )
    assert out["indexed"] == 0
    assert out["unchanged"] == SAMPLE_COUNT
    assert out["count"] == SAMPLE_COUNT
    after = IndexFolder(sample_index_dir).read_info()
    assert after.encoder == before.encoder
    # nothing changed, so nothing is published: running services have nothing to reload
    assert after.generation == before.generation
    run_cli("verify", sample_index_dir)


def test_mismatched_encoder_is_refused(sample_index_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from indexer.cli import cli
    from indexer.encoders import init_model_folder

    other = tmp_path / "other-model"
    init_model_folder(other, size="tiny", seed=1)
    result = CliRunner().invoke(
        cli,
        [
            "index",
            str(SAMPLE_DIR),
            "--index",
            str(sample_index_dir),
            "--model",
            str(other),
            "--quiet",
        ],
    )
    assert result.exit_code == 1
    assert "another one" in result.output and "new --index folder" in result.output
