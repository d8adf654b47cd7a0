"""The indexing stages: each one's time in the run summary, and engines chosen by name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import get_args

import pytest

from indexer.errors import SettingsError
from indexer.indexing.engines import ENGINES
from indexer.indexing.stages import STAGES
from indexer.settings import EngineName, Settings
from tests.support.helpers import SAMPLE_IMAGES, modules_loaded_by, run_cli, tiny_model_args


def _corpus(root: Path) -> Path:
    root.mkdir()
    for name in ("cxr_01.jpg", "cxr_02.jpg", "dcm_ct_small.dcm"):
        shutil.copy(SAMPLE_IMAGES / name, root / name)
    (root / "notes.txt").write_text("not an image")
    return root


def test_the_summary_reports_the_time_of_each_stage(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    args: list[str | Path] = ["index", corpus, "--index", tmp_path / "index"]
    args += tiny_model_args(tiny_model_dir)
    report = json.loads(run_cli(*args, "--json"))
    assert report["engine"] == "threaded"
    assert list(report["stage_seconds"]) == list(STAGES) == ["scan", "prepare", "embed", "write"]
    # three images were read, decoded, embedded and written, each stage taking some time
    assert (report["indexed"], report["embedded"], report["skipped"]) == (3, 3, {"not an image": 1})
    assert all(report["stage_seconds"][stage] > 0 for stage in ("prepare", "embed", "write"))
    assert report["stage_seconds"]["scan"] >= 0

    (corpus / "copy.jpg").write_bytes((corpus / "cxr_01.jpg").read_bytes())
    line = run_cli(*args).splitlines()[-1]
    assert line.startswith("4 images in the index (")
    assert "threaded engine, busy: scan " in line
    assert all(f"{stage} " in line for stage in STAGES)


def test_every_engine_is_a_setting_value_and_back() -> None:
    assert set(ENGINES) == set(get_args(EngineName))
    assert Settings.from_env({"MEDSEARCH_ENGINE": "ray"}).engine == "ray"
    with pytest.raises(SettingsError, match="MEDSEARCH_ENGINE"):
        Settings.from_env({"MEDSEARCH_ENGINE": "spark"})
    with pytest.raises(SettingsError, match="MEDSEARCH_GPUS_PER_WORKER"):
        Settings.from_env({"MEDSEARCH_GPUS_PER_WORKER": "-1"})


@pytest.mark.slow
def test_indexing_and_the_cli_load_no_ray() -> None:
    imports = "indexer.cli, indexer.indexing.pipeline, indexer.indexing.engines.threaded"
    assert modules_loaded_by(imports, ("ray",)) == []
