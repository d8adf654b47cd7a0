"""Helpers of the evaluation tests: a second sample index embedded by another tiny model."""

from __future__ import annotations

from pathlib import Path

from indexer.encoders import init_model_folder
from tests.support.helpers import SAMPLE_DIR, SAMPLE_METADATA, run_cli


def build_second_index(folder: Path) -> Path:
    """The 32 sample images indexed by a tiny random model of seed 1 (the session's has seed 0)."""
    model = folder / "tiny-seed1"
    init_model_folder(model, size="tiny", seed=1)
    index_dir = folder / "index"
    run_cli(
        "index", SAMPLE_DIR, "--index", index_dir, "--metadata", SAMPLE_METADATA,
        "--model", model, "--device", "cpu", "--precision", "fp32", "--quiet",
    )  # fmt: skip
    return index_dir
