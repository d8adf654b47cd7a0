"""``medsearch index --slices N`` on real CT series: a larger N embeds only the new slices, a
smaller one removes the surplus, and every DICOM instance records its series' slice count."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydicom
import pytest

from indexer.records import ImageRecord
from indexer.storage.folder import IndexFolder
from tests.support.helpers import REPO, SAMPLE_IMAGES, run_cli, tiny_model_args

CT_SERIES = REPO / "tests" / "data" / "ct_series"


def _index(corpus: Path, index_dir: Path, model_dir: Path, *options: str) -> dict[str, object]:
    args: list[str | Path] = ["index", corpus, "--index", index_dir, "--json"]
    args += tiny_model_args(model_dir)
    report: dict[str, object] = json.loads(run_cli(*args, *options))
    return report


def _records(index_dir: Path) -> dict[str, ImageRecord]:
    with IndexFolder(index_dir).open_store() as store:
        return {record.path: record for record in store.get_many(store.ids()).values()}


def _long_series_corpus(root: Path) -> Path:
    """The 140-slice series, a photo and a DICOM that belongs to no series."""
    shutil.copytree(CT_SERIES / "philips_s21570" / "s2020", root / "series")
    shutil.copy(SAMPLE_IMAGES / "cxr_01.jpg", root / "photo.jpg")
    loose = pydicom.dcmread(next((CT_SERIES / "ge").iterdir()))
    del loose.SeriesInstanceUID
    loose.save_as(root / "loose.dcm")
    return root


def test_more_slices_embed_only_the_new_ones_and_fewer_remove_the_rest(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = _long_series_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"

    eight = _index(corpus, index_dir, tiny_model_dir, "--slices", "8")
    assert (eight["embedded"], eight["slices_left_out"], eight["slices_removed"]) == (10, 132, 0)
    first = _records(index_dir)
    assert {"photo.jpg", "loose.dcm"} <= first.keys()  # not in a series: indexed as ever
    slices_of_8 = {path for path in first if path.startswith("series/")}
    assert len(slices_of_8) == 8
    assert {first[path].extra["series_slices"] for path in slices_of_8} == {140}
    assert "series_slices" not in first["loose.dcm"].extra | first["photo.jpg"].extra

    sixteen = _index(corpus, index_dir, tiny_model_dir, "--slices", "16")
    assert (sixteen["embedded"], sixteen["unchanged"], sixteen["slices_left_out"]) == (8, 10, 124)
    slices_of_16 = {path for path in _records(index_dir) if path.startswith("series/")}
    assert len(slices_of_16) == 16 and slices_of_8 < slices_of_16

    four = _index(corpus, index_dir, tiny_model_dir, "--slices", "4")
    assert (four["embedded"], four["slices_left_out"], four["slices_removed"]) == (0, 136, 12)
    kept = _records(index_dir)
    slices_of_4 = {path for path in kept if path.startswith("series/")}
    assert len(slices_of_4) == 4 and slices_of_4 < slices_of_8
    assert IndexFolder(index_dir).read_info().count == len(kept) == 6
    assert "consistent" in run_cli("verify", index_dir)
    again = run_cli("index", corpus, "--index", index_dir, "--quiet", "--slices", "4")
    assert "136 slices of DICOM series left out by --slices (0 of them removed" in again


def test_a_series_that_grows_updates_the_count_of_the_slices_kept(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    slices = sorted((CT_SERIES / "ge").iterdir())
    for path in slices[:10]:
        shutil.copy(path, corpus / path.name)
    _index(corpus, tmp_path / "index", tiny_model_dir, "--slices", "3")
    assert {r.extra["series_slices"] for r in _records(tmp_path / "index").values()} == {10}
    for path in slices[10:]:
        shutil.copy(path, corpus / path.name)
    grown = _index(corpus, tmp_path / "index", tiny_model_dir, "--slices", "3")
    records = _records(tmp_path / "index")
    assert len(records) == 3 and {r.extra["series_slices"] for r in records.values()} == {28}
    assert grown["metadata_updated"] == int(grown["unchanged"])  # type: ignore[call-overload]


def test_the_option_refuses_zero(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from indexer.cli import cli

    args = ["index", str(tmp_path), "--index", str(tmp_path / "ix"), "--slices", "0"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "not all or a whole number of 1 or more" in result.output


@pytest.mark.slow
def test_every_slice_records_its_series_count_with_all_slices(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = _long_series_corpus(tmp_path / "corpus")
    report = _index(corpus, tmp_path / "index", tiny_model_dir, "--slices", "all")
    assert (report["embedded"], report["slices_left_out"]) == (142, 0)
    records = _records(tmp_path / "index")
    in_series = [r for path, r in records.items() if path.startswith("series/")]
    assert len(in_series) == 140 and {r.extra["series_slices"] for r in in_series} == {140}
    # then a few slices: the same 8 as a fresh --slices 8 (the choice depends on the series only)
    fewer = _index(corpus, tmp_path / "index", tiny_model_dir, "--slices", "8")
    assert (fewer["slices_removed"], fewer["embedded"]) == (132, 0)
    fresh_dir = tmp_path / "fresh"
    _index(corpus, fresh_dir, tiny_model_dir, "--slices", "8")
    assert _records(tmp_path / "index").keys() == _records(fresh_dir).keys()
