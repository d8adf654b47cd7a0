"""Tasks whose default field an index lacks are skipped, and every output says why.

A field the user names (``--label-field``, ``--caption-field``) must exist: then a missing one
still ends the run with exit status 2, before any report is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from indexer.cli import cli
from tests.support.eval_support import CPU, small_index

IMAGES = ["cxr_01.jpg", "cxr_02.jpg", "fundus_01.jpg", "histo_01.png"]


@pytest.fixture(scope="module")
def captioned_only(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    rows = "".join(f"{name},X-ray,a chest film number {i}\n" for i, name in enumerate(IMAGES))
    folder = tmp_path_factory.mktemp("captioned-only")
    return small_index(folder, tiny_model_dir, IMAGES, "file,modality,caption\n" + rows)


@pytest.fixture(scope="module")
def labelled_only(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    labels = ["chest", "chest", "eye", "eye"]
    rows = "".join(f"{name},{label}\n" for name, label in zip(IMAGES, labels, strict=True))
    folder = tmp_path_factory.mktemp("labelled-only")
    return small_index(folder, tiny_model_dir, IMAGES, "file,label\n" + rows)


def _eval(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["eval", *map(str, args), *CPU, "--bootstrap", "20"])


def test_captioned_index_without_labels_skips_the_label_tasks(
    captioned_only: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    result = _eval(captioned_only, "--json", "--html", report)
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["indexes"]
    assert entry["text_to_image"]["n"] == entry["image_to_text"]["n"] == len(IMAGES)
    assert not {"image_to_image", "zero_shot", "image_to_image_leakage_free"} & set(entry)
    assert [s["task"] for s in entry["skipped"]] == ["image_to_image", "zero_shot"]
    assert all("no field 'label'" in s["reason"] for s in entry["skipped"])
    assert "skipped on" in result.stderr and "zero-shot classification" in result.stderr
    page = report.read_text(encoding="utf-8")
    assert page.count('class="note skipped"') == 2 and "no field &#x27;label&#x27;" in page
    assert 'data-chart="confusion"' not in page and 'data-chart="recall"' in page
    table = _eval(captioned_only)
    assert table.exit_code == 0, table.output
    assert "text -> image" in table.output
    assert "skipped on" in table.output and "image -> image (same label), because" in table.output


def test_labelled_index_without_captions_skips_the_caption_tasks(
    labelled_only: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    result = _eval(labelled_only, "--json", "--html", report)
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["indexes"]
    assert entry["image_to_image"]["n"] == entry["zero_shot"]["n"] == len(IMAGES)
    assert not {"text_to_image", "image_to_text"} & set(entry)
    assert [s["task"] for s in entry["skipped"]] == ["text_to_image", "image_to_text"]
    assert all("has a caption in the field 'caption'" in s["reason"] for s in entry["skipped"])
    page = report.read_text(encoding="utf-8")
    assert page.count('class="note skipped"') == 2 and 'data-chart="confusion"' in page
    table = _eval(labelled_only)
    assert table.exit_code == 0, table.output
    assert "zero-shot classification" in table.output
    assert "skipped on" in table.output and "text -> image, because" in table.output


def test_a_named_field_the_index_lacks_still_fails(
    captioned_only: Path, labelled_only: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    named_labels = _eval(captioned_only, "--label-field", "label", "--html", report)
    assert named_labels.exit_code == 2 and "'label'" in named_labels.output
    named_captions = _eval(labelled_only, "--caption-field", "caption", "--html", report)
    assert named_captions.exit_code == 2 and "caption" in named_captions.output
    assert not report.exists()
