"""``bench index --slices N``: each repeat also indexes N slices per DICOM series, and the two
runs' wall time and images embedded are reported side by side."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsearch_bench.report import index_lines
from tests.support.helpers import REPO
from tests.unit.bench.test_bench import bench_json

pytestmark = pytest.mark.slow

CT_SERIES = REPO / "tests" / "data" / "ct_series"


def test_bench_index_compares_a_few_slices_per_series_with_all(tiny_model_dir: Path) -> None:
    args = ("--model", tiny_model_dir, "--corpus", CT_SERIES, "--device", "cpu")
    result = bench_json("index", *args, "--precision", "fp32", "--slices", "2", "--quick")
    slices = result["slices"]
    assert slices["per_series"] == 2
    # 64 slices drawn from the four series: all of them, or two of each series
    assert (slices["all"]["embedded"], slices["all"]["slices_left_out"]) == (64, 0)
    assert slices["sampled"]["embedded"] == 8
    assert slices["sampled"]["slices_left_out"] == 64 - 8
    assert slices["embedded_ratio"] == 0.125 and slices["wall_time_ratio"] > 0
    assert result["pipeline_runs"][0]["embedded"] == 64  # the pipeline rate is every slice's
    assert any(line.startswith("--slices 2: ") for line in index_lines(result))
