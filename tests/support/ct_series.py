"""The real CT series of ``tests/data/ct_series`` indexed with a sidecar that names each slice's
series and study by its folders, as a folder of cases would carry them, both group fields."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.helpers import CT_SERIES_DIR, run_cli, tiny_model_args

#: series (folders) and studies of the corpus
CT_SERIES_COUNT = 4
CT_STUDY_COUNT = 3


def ct_series_sidecar(target: Path, series: str = "series", study: str = "study") -> Path:
    """A JSON Lines sidecar giving each slice a ``series`` (its folder) and a ``study`` (the
    folder's first part); the fields may be given other names."""
    with target.open("w", encoding="utf-8") as out:
        for file in sorted(CT_SERIES_DIR.rglob("*.dcm")):
            relative = file.relative_to(CT_SERIES_DIR)
            row = {
                "path": relative.as_posix(),
                series: relative.parent.as_posix(),
                study: relative.parts[0],
            }
            out.write(json.dumps(row) + "\n")
    return target


def index_ct_series(index_dir: Path, model_dir: Path, *extra: str | Path) -> Path:
    """Index the 250 slices with their sidecar by the real CLI, ``series`` and ``study`` as
    group fields (beside the ``series_key`` and ``study_key`` read from the files)."""
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    sidecar = ct_series_sidecar(index_dir.parent / "ct_series.jsonl")
    run_cli(
        "index",
        CT_SERIES_DIR,
        "--index",
        index_dir,
        "--metadata",
        sidecar,
        "--group-field",
        "series",
        "--group-field",
        "study",
        *tiny_model_args(model_dir),
        *extra,
    )
    return index_dir
