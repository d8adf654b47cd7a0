"""Which slices ``--slices N`` takes: nested, near-even, the middle first, per series of real CT
data; files that are not in a series are left alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from indexer.imaging.geometry import SlicePlace
from indexer.indexing.slice_sampling import SlicePlan, plan_slices, sampling_order
from indexer.sources.folder import FolderSource
from tests.support.helpers import REPO, SAMPLE_IMAGES

CT_SERIES = REPO / "tests" / "data" / "ct_series"
#: the 140-slice series
LONG_SERIES = "philips_s21570/s2020/"


def _gaps(chosen: list[int], count: int) -> list[int]:
    """Distances between chosen places, the series' ends (one place outside) included."""
    ordered = sorted(chosen)
    return [b - a for a, b in zip([-1, *ordered], [*ordered, count], strict=True)]


def test_the_order_ranks_every_place_once_middle_first() -> None:
    for count in range(1, 300):
        order = sampling_order(count)
        assert sorted(order) == list(range(count))
        assert order[0] == (count - 1) // 2
    assert sampling_order(0) == []
    # after the middle, the quarters, then the eighths spread along the series
    assert sampling_order(7) == [3, 1, 5, 0, 4, 2, 6]


def test_complete_levels_split_the_series_into_equal_parts() -> None:
    for levels in range(1, 6):
        taken = 2**levels - 1  # 1, 3, 7, 15, 31 slices
        for parts in (1, 2, 3, 5):
            count = (taken + 1) * parts - 1
            assert set(_gaps(sampling_order(count)[:taken], count)) == {parts}


def test_any_number_of_slices_is_near_evenly_spaced() -> None:
    """No gap is more than twice the even one (plus a place), none under half of it (less a
    place), for every series length up to 300 and every number of slices."""
    for count in range(1, 300):
        order = sampling_order(count)
        for taken in range(1, count + 1):
            even = (count + 1) / (taken + 1)
            gaps = _gaps(order[:taken], count)
            assert max(gaps) <= 2 * even + 1, (count, taken, gaps)
            assert min(gaps) >= even / 2 - 1, (count, taken, gaps)


def _places() -> dict[str, SlicePlace]:
    source = FolderSource(CT_SERIES)
    return source.slice_places(source.scan())


def test_real_series_are_counted_and_sampled_nested_by_position() -> None:
    places = _places()
    assert len(places) == 250  # every slice, and no other file (the licence, the script)
    everything = plan_slices(places, None)
    assert everything.left_out == frozenset()
    counts = {path.rsplit("/", 1)[0]: n for path, n in everything.series_slices.items()}
    assert counts == {
        "philips_s21570/s2010": 28,
        "philips_s21570/s2020": 140,
        "philips_s21610/s2010": 54,
        "ge": 28,
    }

    def kept(plan: SlicePlan) -> set[str]:
        return {p for p in places if p.startswith(LONG_SERIES) and p not in plan.left_out}

    chosen = {n: kept(plan_slices(places, n)) for n in (1, 4, 8, 16, 140, 500)}
    assert {n: len(paths) for n, paths in chosen.items()} == {
        1: 1, 4: 4, 8: 8, 16: 16, 140: 140, 500: 140
    }  # fmt: skip
    assert chosen[1] < chosen[4] < chosen[8] < chosen[16] < chosen[140]
    # by position along the slice normal: the middle slice comes first, the rest spread out
    series = sorted((places[p].position or 0.0, p) for p in places if p.startswith(LONG_SERIES))
    rank = {path: number for number, (_, path) in enumerate(series)}
    assert [rank[p] for p in chosen[1]] == [69]
    assert max(_gaps([rank[p] for p in chosen[16]], 140)) <= 2 * 141 / 17 + 1
    # each series of the corpus gives its own 4
    assert len(plan_slices(places, 4).left_out) == 250 - 4 * 4


def test_files_outside_a_series_are_not_in_the_plan(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE_IMAGES / "cxr_01.jpg", corpus / "photo.jpg")
    dataset = pydicom.dcmread(next((CT_SERIES / "ge").iterdir()))
    del dataset.SeriesInstanceUID
    dataset.save_as(corpus / "no-series.dcm")
    (corpus / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    places = FolderSource(corpus).slice_places(FolderSource(corpus).scan())
    assert "photo.jpg" not in places and "no-series.dcm" in places
    assert all(place.series_uid is None for place in places.values())
    plan = plan_slices(places, 1)
    assert (plan.left_out, dict(plan.series_slices)) == (frozenset(), {})
    assert plan.metadata("no-series.dcm") == {}


@pytest.mark.parametrize("value", ["all", "ALL", " 16 ", "1"])
def test_the_setting_takes_all_or_a_whole_number(value: str) -> None:
    from indexer.settings import Settings

    settings = Settings.from_env({"MEDSEARCH_SLICES": value})
    expected = None if value.strip().lower() == "all" else int(value)
    assert settings.slices_per_series == expected


@pytest.mark.parametrize("value", ["0", "-3", "some", "2.5"])
def test_the_setting_refuses_anything_else(value: str) -> None:
    from indexer.errors import SettingsError
    from indexer.settings import Settings

    with pytest.raises(SettingsError, match="MEDSEARCH_SLICES.*not all or a whole number of 1"):
        Settings.from_env({"MEDSEARCH_SLICES": value})
    with pytest.raises(SettingsError, match="slices"):
        Settings(slices=value)
