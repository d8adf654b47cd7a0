"""Tasks whose default field an index lacks are skipped, and every output says why.

A field the user names (``--label-field``, ``--caption-field``) must exist: then a missing one
still ends the run with exit status 2, before any report is written.
"""

from __future__ import annotations

import html
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


@pytest.mark.parametrize(
    ("index", "run", "skipped", "reason", "chart"),
    [
        (
            "captioned_only",
            ["text_to_image", "image_to_text"],
            {"image_to_image": "image -> image (same label)", "zero_shot": "zero-shot"},
            "no field 'label'",
            "recall",
        ),
        (
            "labelled_only",
            ["image_to_image", "zero_shot"],
            {"text_to_image": "text -> image", "image_to_text": "image -> text"},
            "has a caption in the field 'caption'",
            "map",
        ),
    ],
)
def test_tasks_without_their_default_field_are_skipped(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    index: str,
    run: list[str],
    skipped: dict[str, str],
    reason: str,
    chart: str,
) -> None:
    index_dir: Path = request.getfixturevalue(index)
    report = tmp_path / "report.html"
    result = _eval(index_dir, "--json", "--html", report)
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["indexes"]
    assert [name for name in entry if name in run or name in skipped] == run
    assert all(entry[name]["n"] == len(IMAGES) for name in run)
    assert [s["task"] for s in entry["skipped"]] == list(skipped)
    assert all(reason in s["reason"] for s in entry["skipped"])
    assert all(f"skipped on {index_dir}: {title}" in result.stderr for title in skipped.values())
    page = report.read_text(encoding="utf-8")
    assert page.count('class="note skipped"') == len(skipped)
    assert html.escape(reason, quote=True) in page
    assert f'data-chart="{chart}"' in page
    # the confusion matrix of zero-shot classification, only where it ran
    assert ('data-chart="confusion"' in page) == ("zero_shot" in run)
    table = _eval(index_dir)
    assert table.exit_code == 0, table.output
    for title in skipped.values():
        assert f"skipped on {index_dir}: {title}" in table.output
    assert reason in table.output


def test_a_named_field_the_index_lacks_still_fails(
    captioned_only: Path, labelled_only: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    named_labels = _eval(captioned_only, "--label-field", "label", "--html", report)
    assert named_labels.exit_code == 2 and "'label'" in named_labels.output
    named_captions = _eval(labelled_only, "--caption-field", "caption", "--html", report)
    assert named_captions.exit_code == 2 and "caption" in named_captions.output
    assert not report.exists()
