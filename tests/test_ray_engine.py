"""The ray engine against the threaded one, on a real local Ray runtime (``ray_runtime``)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from indexer.cli import cli
from indexer.vector_file import VectorFile
from tests.helpers import SAMPLE_DIR, SAMPLE_IMAGES, SAMPLE_METADATA, run_cli, tiny_model_args

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_runtime")]

_COLUMNS = "id, path, sha256, size, width, height, format, modality, caption, extra"


def _ray_index(corpus: Path, index_dir: Path, model_dir: Path, *extra: str) -> dict[str, Any]:
    args = [
        "index",
        str(corpus),
        "--index",
        str(index_dir),
        *tiny_model_args(model_dir),
        *("--engine", "ray", "--workers", "1", "--batch-size", "8", "--json", *extra),
    ]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # Ray logs to stderr; stdout is the summary alone
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["engine"] == "ray"
    return report


def _images(index_dir: Path) -> dict[str, tuple[Any, ...]]:
    with sqlite3.connect(index_dir / "meta.sqlite") as db:
        rows = db.execute(f"SELECT {_COLUMNS} FROM images ORDER BY id").fetchall()
    return {row[1]: row for row in rows}


def _failures(index_dir: Path) -> list[dict[str, Any]]:
    failures: list[dict[str, Any]] = json.loads(run_cli("info", index_dir, "--json"))["failures"]
    return failures


def _vectors(index_dir: Path, ids: list[int]) -> np.ndarray:
    dim = json.loads((index_dir / "index_info.json").read_text("utf-8"))["dim"]
    return VectorFile(index_dir / "vectors.f16", dim).read(ids)


def test_the_ray_built_index_equals_the_threaded_one(
    tmp_path: Path, tiny_model_dir: Path, sample_index_dir: Path
) -> None:
    ray_dir = tmp_path / "ray-index"
    report = _ray_index(SAMPLE_DIR, ray_dir, tiny_model_dir, "--metadata", str(SAMPLE_METADATA))
    assert report["stage_seconds"]["prepare"] > 0 and report["stage_seconds"]["embed"] > 0

    threaded, by_ray = _images(sample_index_dir), _images(ray_dir)
    assert by_ray == threaded  # same ids, paths, contents and metadata
    assert _failures(ray_dir) == _failures(sample_index_dir)
    ids = [row[0] for row in threaded.values()]
    a, b = _vectors(sample_index_dir, ids), _vectors(ray_dir, ids)
    cosines = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cosines.min() >= 0.9999, cosines.min()
    assert "consistent" in run_cli("verify", ray_dir, "--deep")


def test_a_ray_rerun_embeds_only_new_content(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE_IMAGES, corpus)
    index_dir = tmp_path / "index"
    first = _ray_index(corpus, index_dir, tiny_model_dir)
    assert first["indexed"] == first["embedded"] == first["count"]

    # one new picture, a copy of it (same run) and a copy of an indexed file
    new = np.asarray(Image.open(SAMPLE_IMAGES / "cxr_01.jpg").convert("L")).copy()
    new[:16, :16] = 255
    Image.fromarray(new).save(corpus / "new.png")
    shutil.copy(corpus / "new.png", corpus / "new_copy.png")
    shutil.copy(corpus / "cxr_02.jpg", corpus / "old_copy.jpg")
    second = _ray_index(corpus, index_dir, tiny_model_dir)
    assert (second["indexed"], second["embedded"], second["duplicates"]) == (3, 1, 2)
    assert second["unchanged"] == first["count"]
    assert second["count"] == first["count"] + 3

    images = _images(index_dir)
    pairs = [("new.png", "new_copy.png"), ("cxr_02.jpg", "old_copy.jpg")]
    for original, copy in pairs:
        a, b = _vectors(index_dir, [images[original][0], images[copy][0]])
        np.testing.assert_array_equal(a, b)
    assert run_cli("verify", index_dir).strip().endswith("consistent")
    third = _ray_index(corpus, index_dir, tiny_model_dir)
    assert (third["indexed"], third["embedded"]) == (0, 0)
