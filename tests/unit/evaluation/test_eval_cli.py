"""``medsearch eval`` on the real sample index: figures, JSON shape, judgments, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.encoders import Encoder
from indexer.storage.folder import IndexFolder
from tests.support.eval_support import build_second_index, small_index
from tests.support.helpers import SAMPLE_COUNT, run_cli

CPU = ("--device", "cpu", "--precision", "fp32")
CROSS_KEYS = {"R@1", "R@5", "R@10", "R@50", "MRR", "median_rank"}
IMAGE_KEYS = {"P@10", "mAP@10", "R-precision"}
ZERO_SHOT_KEYS = {"accuracy", "balanced_accuracy", "macro_f1"}


def _eval_json(*args: str | Path) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["eval", *map(str, args), *CPU, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _fails(*args: str | Path) -> str:
    result = CliRunner().invoke(cli, ["eval", *map(str, args), *CPU])
    assert result.exit_code == 2, result.output
    return result.output


def _with_intervals(figures: dict[str, Any], keys: set[str]) -> None:
    assert set(figures) >= keys | {f"{k}_ci" for k in keys} | {"n"}
    for key in keys:
        interval = figures[f"{key}_ci"]
        assert len(interval) == 2 and interval[0] <= figures[key] <= interval[1], key


@pytest.fixture(scope="module")
def evaluated(sample_index_dir: Path) -> dict[str, Any]:
    return _eval_json(sample_index_dir, "--bootstrap", "200")


def test_json_has_the_documented_shape(evaluated: dict[str, Any], sample_index_dir: Path) -> None:
    (entry,) = evaluated["indexes"]
    assert entry["index"] == str(sample_index_dir)
    assert entry["encoder"] == "biomedclip" and entry["random_weights"] is True
    for section in ("text_to_image", "image_to_text"):
        _with_intervals(entry[section], CROSS_KEYS)
        assert entry[section]["n"] == SAMPLE_COUNT
        # 32 images: every caption's own image is within the top 50
        assert entry[section]["R@50"] == 1.0
    _with_intervals(entry["image_to_image"], IMAGE_KEYS)
    _with_intervals(entry["zero_shot"], ZERO_SHOT_KEYS)
    assert entry["zero_shot"]["n"] == SAMPLE_COUNT
    assert np.asarray(entry["zero_shot"]["confusion_matrix"]).sum() == SAMPLE_COUNT
    assert "image_to_image_leakage_free" not in entry


def test_figures_match_an_independent_computation(
    evaluated: dict[str, Any], sample_index_dir: Path, tiny_encoder: Encoder
) -> None:
    folder = IndexFolder(sample_index_dir)
    store = folder.open_store()
    ids = store.ids()
    records = store.get_many(ids.tolist())
    store.close()
    vectors = folder.vector_file(folder.read_info().dim).read(ids)
    captions = tiny_encoder.encode_texts([str(records[int(i)].caption) for i in ids])
    scores = captions @ vectors.T
    # own image's rank: images scoring higher, plus equal-scoring ones of lower id, plus one
    own = np.diag(scores)[:, None]
    lower_id = np.arange(len(ids))[None, :] < np.arange(len(ids))[:, None]
    ranks = (scores > own).sum(axis=1) + ((scores == own) & lower_id).sum(axis=1) + 1
    figures = evaluated["indexes"][0]["text_to_image"]
    assert figures["R@1"] == pytest.approx(float(np.mean(ranks <= 1)), abs=1e-6)
    assert figures["R@5"] == pytest.approx(float(np.mean(ranks <= 5)), abs=1e-6)
    assert figures["MRR"] == pytest.approx(float(np.mean(1 / ranks)), abs=1e-5)
    assert figures["median_rank"] == pytest.approx(float(np.median(ranks)))
    # image -> image queries: images whose label another image shares
    labels = [records[int(i)].extra.get("label") for i in ids]
    shared = sum(labels.count(label) > 1 for label in labels)
    assert evaluated["indexes"][0]["image_to_image"]["n"] == shared


def test_table_flags_random_weights(sample_index_dir: Path) -> None:
    output = run_cli("eval", sample_index_dir, *CPU, "--bootstrap", "50")
    assert "random weights" in output
    assert "text -> image" in output and "zero-shot classification" in output
    assert "R@10" in output and "mAP@10" in output


def test_groups_breakdown_and_served(sample_index_dir: Path) -> None:
    data = _eval_json(
        sample_index_dir, "--group-field", "source", "--by", "modality", "--served",
        "--bootstrap", "50",
    )  # fmt: skip
    (entry,) = data["indexes"]
    assert "image_to_image_leakage_free" in entry
    assert set(entry["by"]["values"]) == {"CR", "CT", "MR", "NM", "OP", "SM", "US"}
    assert entry["by"]["values"]["CR"]["text_to_image"]["n"] == 18
    # the sample index is a flat (exact) index: served equals exact
    differences = entry["served"]["difference"]
    assert set(differences) == {"text_to_image", "image_to_image"}
    assert all(v == 0 for section in differences.values() for v in section.values())
    # with groups, a caption's relevant images include its whole group: recall can only grow
    plain = _eval_json(sample_index_dir, "--bootstrap", "0")["indexes"][0]
    assert entry["text_to_image"]["R@1"] >= plain["text_to_image"]["R@1"]
    assert plain["text_to_image"]["R@1_ci"] is None


def test_judged_queries(sample_index_dir: Path, tmp_path: Path) -> None:
    qrels = tmp_path / "qrels.csv"
    qrels.write_text(
        "query,image,grade\n"
        "chest x-ray with ground-glass opacities,images/cxr_04.jpg,2\n"
        "chest x-ray with ground-glass opacities,images/cxr_05.jpg,1\n"
        "fundus photograph,images/fundus_01.jpg,\n",
        encoding="utf-8",
    )
    entry = _eval_json(sample_index_dir, "--queries", qrels, "--bootstrap", "50")["indexes"][0]
    figures = entry["queries"]
    assert figures["n"] == 2
    assert 0 < figures["nDCG@10"] <= 1
    assert figures["R@50"] == 1.0  # 32 images: everything is within the top 50


@pytest.mark.slow
def test_two_indexes_side_by_side(
    sample_index_dir: Path, tmp_path: Path, evaluated: dict[str, Any]
) -> None:
    second = build_second_index(tmp_path)
    report = tmp_path / "report.html"
    result = CliRunner().invoke(
        cli,
        ["eval", str(sample_index_dir), str(second), *CPU, "--bootstrap", "200", "--json",
         "--html", str(report)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [e["index"] for e in data["indexes"]] == [str(sample_index_dir), str(second)]
    # same bootstrap seed: the first column equals the single-index run
    assert data["indexes"][0]["text_to_image"] == evaluated["indexes"][0]["text_to_image"]
    for difference in data["differences"]:
        better, worse = difference["values"]
        assert better != worse and "." in difference["figure"]
    page = report.read_text(encoding="utf-8")
    assert page.count('class="chart') >= 4 and "random-weights" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert page.count("data:image/jpeg;base64,") >= 10


def test_missing_field_is_named(sample_index_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert "'nope'" in _fails(sample_index_dir, "--label-field", "nope", "--html", out)
    assert "'ward'" in _fails(sample_index_dir, "--group-field", "ward", "--html", out)
    assert "'site'" in _fails(sample_index_dir, "--by", "site", "--html", out)
    assert not out.exists()


def test_one_class_no_captions_and_one_image(tmp_path: Path, tiny_model_dir: Path) -> None:
    csv = "file,modality,label\ncxr_01.jpg,X-ray,a\ncxr_02.jpg,CT,a\n"
    index_dir = small_index(tmp_path, tiny_model_dir, ["cxr_01.jpg", "cxr_02.jpg"], csv)
    message = _fails(index_dir)
    assert "label field 'label'" in message and "1 distinct value" in message
    # neither default field is usable: no task can run
    assert "no evaluation task can run" in message and "caption" in message
    message = _fails(index_dir, "--label-field", "modality", "--caption-field", "caption")
    assert "caption" in message
    single = tmp_path / "single"
    single.mkdir()
    lone = small_index(single, tiny_model_dir, ["cxr_01.jpg"], "file,label\ncxr_01.jpg,a\n")
    assert "holds 1 image" in _fails(lone)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("query,image\nlungs,images/cxr_01.jpg\nlungs,images/nowhere.jpg\n", "line 3"),
        ("query,image\nlungs,99999\n", "line 2"),
        ("query,image,grade\nlungs,images/cxr_01.jpg,-1\n", "line 2: grade"),
        ("text,path\nlungs,images/cxr_01.jpg\n", "line 1"),
        ("query,image\n,images/cxr_01.jpg\n", "line 2: the query is empty"),
        ("query,image\n", "no judgment"),
    ],
)
def test_bad_judgments(sample_index_dir: Path, tmp_path: Path, text: str, expected: str) -> None:
    qrels = tmp_path / "qrels.csv"
    qrels.write_text(text, encoding="utf-8")
    out = tmp_path / "r.html"
    assert expected in _fails(sample_index_dir, "--queries", qrels, "--html", out)
    assert not out.exists()
