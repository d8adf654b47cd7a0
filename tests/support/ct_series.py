"""The real CT series of ``tests/data/ct_series`` indexed with a sidecar that names each slice's
series and study (its folders) and its place in the series (read from its header)."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom

from indexer.imaging.geometry import slice_place
from tests.support.helpers import REPO, run_cli, tiny_model_args

CT_SERIES_DIR = REPO / "tests" / "data" / "ct_series"
#: series (folders) and studies of the corpus
CT_SERIES_COUNT = 4
CT_STUDY_COUNT = 3


def ct_series_sidecar(target: Path) -> Path:
    """A JSON Lines sidecar giving each slice ``series`` and ``study`` from its folders, and its
    ``instance_number`` and ``slice_position`` (numbers) from its header."""
    with target.open("w", encoding="utf-8") as out:
        for file in sorted(CT_SERIES_DIR.rglob("*.dcm")):
            relative = file.relative_to(CT_SERIES_DIR)
            place = slice_place(pydicom.dcmread(file, stop_before_pixels=True))
            row = {
                "path": relative.as_posix(),
                "series": relative.parent.as_posix(),
                "study": relative.parts[0],
                "instance_number": place.instance_number,
                "slice_position": place.position,
            }
            out.write(json.dumps(row) + "\n")
    return target


def index_ct_series(index_dir: Path, model_dir: Path, *extra: str) -> Path:
    """Index the 250 slices with their sidecar by the real CLI."""
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    sidecar = ct_series_sidecar(index_dir.parent / "ct_series.jsonl")
    run_cli(
        "index",
        CT_SERIES_DIR,
        "--index",
        index_dir,
        "--metadata",
        sidecar,
        *tiny_model_args(model_dir),
        *extra,
    )
    return index_dir
