"""Helpers of the evaluation tests: a second sample index, small indexes of chosen metadata."""

from __future__ import annotations

import shutil
from pathlib import Path

from indexer.encoders import init_model_folder
from tests.support.helpers import SAMPLE_DIR, SAMPLE_IMAGES, SAMPLE_METADATA, run_cli

CPU = ("--device", "cpu", "--precision", "fp32")


def build_second_index(folder: Path) -> Path:
    """The 32 sample images indexed by a tiny random model of seed 1 (the session's has seed 0)."""
    model = folder / "tiny-seed1"
    init_model_folder(model, size="tiny", seed=1)
    index_dir = folder / "index"
    run_cli(
        "index", SAMPLE_DIR, "--index", index_dir, "--metadata", SAMPLE_METADATA,
        "--model", model, *CPU, "--quiet",
    )  # fmt: skip
    return index_dir


def small_index(folder: Path, model: Path, names: list[str], csv: str) -> Path:
    """An index in ``folder`` of the sample images ``names``, with the metadata CSV ``csv``."""
    corpus = folder / "corpus"
    corpus.mkdir()
    for name in names:
        shutil.copy(SAMPLE_IMAGES / name, corpus / name)
    (folder / "meta.csv").write_text(csv, encoding="utf-8")
    index_dir = folder / "index"
    run_cli(
        "index", corpus, "--index", index_dir, "--metadata", folder / "meta.csv",
        "--model", model, *CPU, "--quiet",
    )  # fmt: skip
    return index_dir
