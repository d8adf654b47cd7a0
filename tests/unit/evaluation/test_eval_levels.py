"""``medsearch eval --level``: series as the retrieved units, on real CT series."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.evaluation.levels import majority
from indexer.storage.folder import IndexFolder

CPU = ("--device", "cpu", "--precision", "fp32")


def _series_means(index_dir: Path) -> dict[str, np.ndarray]:
    """Each series' normalised mean of its slices' stored vectors, computed here."""
    folder = IndexFolder(index_dir)
    with folder.open_store() as store:
        ids, values = store.field_values("series")
    vectors = folder.vector_file(folder.read_info().dim).read(ids)
    means = {}
    for value in {str(v) for v in values}:
        mean = vectors[[str(v) == value for v in values]].astype(np.float64).mean(axis=0)
        means[value] = mean / np.linalg.norm(mean)
    return means


def test_series_level_figures_treat_each_series_as_one_unit(ct_series_index_dir: Path) -> None:
    args = ["eval", ct_series_index_dir, "--level", "group:series", "--label-field", "study"]
    result = CliRunner().invoke(cli, [*map(str, args), *CPU, "--bootstrap", "0", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["settings"]["level"] == "group:series"
    (entry,) = document["indexes"]
    assert entry["images"] == 4
    # series -> series: only the two series of study philips_s21570 share a label
    figures = entry["image_to_image"]
    assert figures["n"] == 2
    assert figures["P@10"] == pytest.approx(0.1)
    means = _series_means(ct_series_index_dir)
    names = sorted(means)
    precision_at_1 = []
    for query, sibling in (
        ("philips_s21570/s2010", "philips_s21570/s2020"),
        ("philips_s21570/s2020", "philips_s21570/s2010"),
    ):
        others = [n for n in names if n != query]
        nearest = max(others, key=lambda n: float(means[query] @ means[n]))
        precision_at_1.append(float(nearest == sibling))
    assert figures["R-precision"] == pytest.approx(float(np.mean(precision_at_1)))
    assert entry["zero_shot"]["n"] == 4


def test_a_level_without_group_vectors_or_with_served_is_refused(
    ct_series_index_dir: Path,
) -> None:
    for extra, message in (
        (["--level", "series"], "series_key"),
        (["--level", "group:series", "--served"], "--served measures images"),
        (["--level", "slab"], "level must be"),
    ):
        result = CliRunner().invoke(cli, ["eval", str(ct_series_index_dir), *extra, *CPU])
        assert result.exit_code == 2, result.output
        assert message in result.output


def test_a_group_holds_the_value_most_of_its_images_hold() -> None:
    assert majority(["a", "b", "b", None, " "]) == "b"
    assert majority(["b", "a"]) == "a"
    assert majority([None, ""]) is None
