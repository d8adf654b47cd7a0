"""``medsearch eval`` on four real CT series: rankings collapsed by a field (``--collapse``)
against a brute-force collapse, and image -> image leaving the query's own series out where the
index has series keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.storage.folder import IndexFolder
from tests.support.helpers import SAMPLE_DIR, run_cli, tiny_model_args

CPU = ("--device", "cpu", "--precision", "fp32")


def eval_json(*args: str | Path) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["eval", *map(str, args), *CPU, "--json", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def keyed_index(ct_series_index_dir: Path) -> Path:
    """The CT series index: every slice carries the ``series_key`` read from its file."""
    return ct_series_index_dir


def brute_force_r_precision(index_dir: Path, label: str, collapse: str) -> float:
    """Mean R-precision of image -> image (same ``label``) over groups of ``collapse``: each
    query ranks the groups by their best image (itself left out); a group is relevant when any
    of its other images shares the query's label."""
    folder = IndexFolder(index_dir)
    store = folder.open_store()
    try:
        ids = store.ids()
        records = store.get_many(ids.tolist())
        vectors = folder.vector_file(folder.read_info().dim).read(ids)
    finally:
        store.close()
    labels = [records[int(i)].metadata()[label] for i in ids]
    groups = [records[int(i)].metadata()[collapse] for i in ids]
    values = []
    for q in range(len(ids)):
        scores = vectors @ vectors[q]
        best: dict[Any, float] = {}
        relevant: set[Any] = set()
        for row in range(len(ids)):
            if row == q:
                continue
            best[groups[row]] = max(best.get(groups[row], -np.inf), float(scores[row]))
            if labels[row] == labels[q]:
                relevant.add(groups[row])
        ranking = sorted(best, key=lambda g: -best[g])
        values.append(sum(g in relevant for g in ranking[: len(relevant)]) / len(relevant))
    return float(np.mean(values))


def test_collapsed_image_to_image_equals_a_brute_force_collapse(
    ct_series_index_dir: Path,
) -> None:
    own = "--include-own-series"  # the brute force below ranks the query's own series too
    found = eval_json(ct_series_index_dir, "--label-field", "study", "--collapse", "series", own)
    (entry,) = found["indexes"]
    assert found["settings"]["collapse"] == "series"
    expected = brute_force_r_precision(ct_series_index_dir, "study", "series")
    assert entry["image_to_image"]["R-precision"] == pytest.approx(expected, abs=1e-9)
    plain = eval_json(ct_series_index_dir, "--label-field", "study", own)["indexes"][0]
    # 4 series of 3 studies: ranked as images, neighbouring slices fill the top 10
    assert plain["image_to_image"]["P@10"] > entry["image_to_image"]["P@10"]


def test_image_to_image_leaves_the_own_series_out_where_series_keys_exist(
    keyed_index: Path,
) -> None:
    default = eval_json(keyed_index, "--label-field", "study")
    (entry,) = default["indexes"]
    assert entry["own_series_excluded"] is True and default["settings"]["exclude_own_series"]
    # the same as the leakage-free figures of --group-field series_key
    grouped = eval_json(
        keyed_index, "--label-field", "study", "--group-field", "series_key", "--include-own-series"
    )
    (kept,) = grouped["indexes"]
    assert kept["own_series_excluded"] is False
    for name in ("P@10", "mAP@10", "R-precision"):
        assert entry["image_to_image"][name] == pytest.approx(
            kept["image_to_image_leakage_free"][name]
        )
    # neighbouring slices of its own series flatter every query
    assert kept["image_to_image"]["P@10"] > entry["image_to_image"]["P@10"]
    table = CliRunner().invoke(cli, ["eval", str(keyed_index), "--label-field", "study", *CPU])
    assert "each query's own series left out" in table.output
    table = CliRunner().invoke(
        cli, ["eval", str(keyed_index), "--label-field", "study", "--include-own-series", *CPU]
    )
    assert "keeps each query's own series (--include-own-series)" in table.output


def test_an_index_without_series_keys_keeps_every_image(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = tmp_path / "images"
    shutil.copytree(SAMPLE_DIR / "images", corpus, ignore=shutil.ignore_patterns("*.dcm"))
    sidecar = tmp_path / "labels.csv"
    sidecar.write_text(
        "file,label\n" + "".join(f"{p.name},{p.name[:3]}\n" for p in sorted(corpus.iterdir()))
    )
    index_dir = tmp_path / "index"
    run_cli("index", corpus, "--index", index_dir, "--metadata", sidecar,
            *tiny_model_args(tiny_model_dir))  # fmt: skip
    found = eval_json(index_dir, "--label-field", "label")
    assert found["indexes"][0]["own_series_excluded"] is False


def test_collapse_needs_a_field_of_the_index_and_no_served(ct_series_index_dir: Path) -> None:
    for extra in (["--collapse", "nope"], ["--collapse", "series", "--served"]):
        result = CliRunner().invoke(
            cli, ["eval", str(ct_series_index_dir), "--label-field", "study", *extra, *CPU]
        )
        assert result.exit_code == 2, result.output
    assert (
        "nope"
        in CliRunner()
        .invoke(cli, ["eval", str(ct_series_index_dir), "--collapse", "nope", *CPU])
        .output
    )
