"""Group vectors on real CT series: brute-force means, incremental runs, checksums, old indexes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.encoders import Encoder
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.storage.folder import IndexFolder
from indexer.storage.group_files import GroupFiles, load_groups
from indexer.storage.group_vectors import group_table
from indexer.storage.verify import verify_index
from tests.support.helpers import CT_SERIES_DIR, run_cli, tiny_model_args

#: series folders of tests/data/ct_series and their slice counts
SERIES = {
    "philips_s21570/s2010": 28,
    "philips_s21570/s2020": 140,
    "philips_s21610/s2010": 54,
    "ge": 28,
}


def _stored(folder: IndexFolder, field: str) -> tuple[dict[str, list[int]], np.ndarray]:
    """Each value's image ids, from the metadata database, and every stored vector by id."""
    info = folder.read_info()
    with folder.open_store() as store:
        ids, values = store.field_values(field)
        every = store.ids()
    members: dict[str, list[int]] = {}
    for image_id, value in zip(ids.tolist(), values, strict=True):
        members.setdefault(str(value), []).append(image_id)
    table = np.zeros((int(every.max()) + 1, info.dim), dtype=np.float32)
    table[every] = folder.vector_file(info.dim).read(every)
    return members, table


@pytest.mark.parametrize("field", ["series", "study"])
def test_group_vectors_are_the_normalised_means_of_their_images_stored_vectors(
    ct_series_index_dir: Path, field: str
) -> None:
    folder = IndexFolder(ct_series_index_dir)
    info = folder.read_info()
    # the sidecar's fields as named, then the keys the slices carry from their files
    assert info.group_fields == ("series", "study", "series_key", "study_key")
    published = load_groups(folder, info, field).table
    members, vectors = _stored(folder, field)
    assert sorted(map(str, published.values)) == sorted(members)
    for group, value in enumerate(published.values):
        ids = members[str(value)]
        assert published.member_ids(group).tolist() == ids
        assert published.sizes[group] == len(ids)
        mean = vectors[ids].astype(np.float64).mean(axis=0)
        mean /= np.linalg.norm(mean)
        np.testing.assert_allclose(published.vectors[group], mean, atol=2e-3)
        nearest = ids[int(np.argmax(vectors[ids] @ mean))]
        assert published.representatives[group] == nearest
    if field == "series":
        assert dict(zip(published.values, published.sizes.tolist(), strict=True)) == SERIES


def _copy_series(corpus: Path, series: str, slices: int) -> None:
    for file in sorted((CT_SERIES_DIR / series).glob("*.dcm"))[:slices]:
        target = corpus / series / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)


def _index(corpus: Path, index: Path, model: Path, *extra: str) -> None:
    rows = ["path,series"] + [
        f"{f.relative_to(corpus).as_posix()},{f.parent.relative_to(corpus).as_posix()}"
        for f in sorted(corpus.rglob("*.dcm"))
    ]
    sidecar = index.parent / "series.csv"
    sidecar.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run_cli(
        "index", corpus, "--index", index, "--metadata", sidecar, *tiny_model_args(model), *extra
    )


def test_an_incremental_run_gives_the_group_vectors_a_computation_from_scratch_gives(
    tmp_path: Path, tiny_model_dir: Path, tiny_encoder: Encoder
) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    _copy_series(corpus, "ge", 8)
    _copy_series(corpus, "philips_s21570/s2010", 6)
    _index(corpus, index, tiny_model_dir, "--group-field", "series", "--group-field", "absent")
    folder = IndexFolder(index)
    first = load_groups(folder, folder.read_info(), "series").table
    settings = Settings(index_dir=index, device="cpu", precision="fp32")
    retriever = Retriever.open(settings, encoder=tiny_encoder)
    query = np.ones(tiny_encoder.dim, dtype=np.float32)
    assert retriever.search(vector=query, level="group:series").total == 2
    # a new series, a slice gone from one series; the third is untouched
    _copy_series(corpus, "philips_s21610/s2010", 5)
    _copy_series(corpus, "philips_s21570/s2020", 4)
    next(iter(sorted((corpus / "ge").glob("*.dcm")))).unlink()
    # the field is recorded: the next runs need no --group-field
    _index(corpus, index, tiny_model_dir, "--prune")
    info = folder.read_info()
    # a running service picks up the new version's groups
    assert retriever.refresh()
    assert retriever.search(vector=query, level="group:series").total == 4
    retriever.close()
    assert info.group_fields == ("series", "absent", "series_key", "study_key")
    assert len(load_groups(folder, info, "absent").table) == 0  # no image carries it
    incremental = load_groups(folder, info, "series").table
    with folder.open_store() as store:
        ids, values = store.field_values("series")
    vectors = folder.vector_file(info.dim)
    scratch = group_table("series", ids, values, vectors.read, info.dim)
    assert incremental.values == scratch.values
    assert incremental.digests == scratch.digests
    np.testing.assert_array_equal(incremental.members, scratch.members)
    np.testing.assert_array_equal(incremental.representatives, scratch.representatives)
    rounded = scratch.vectors.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(incremental.vectors, rounded)
    assert dict(zip(incremental.values, incremental.sizes.tolist(), strict=True)) == {
        "ge": 7,
        "philips_s21570/s2010": 6,
        "philips_s21570/s2020": 4,
        "philips_s21610/s2010": 5,
    }
    untouched = first.values.index("philips_s21570/s2010")
    again = incremental.values.index("philips_s21570/s2010")
    np.testing.assert_array_equal(first.vectors[untouched], incremental.vectors[again])
    assert verify_index(index, deep=True) == []


def test_only_the_groups_whose_images_changed_are_computed_again() -> None:
    rng = np.random.default_rng(0)
    dim = 8
    vectors = rng.standard_normal((21, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    read: list[list[int]] = []

    def read_vectors(ids: np.ndarray) -> np.ndarray:
        read.append(ids.tolist())
        return vectors[ids]

    ids = np.arange(1, 13, dtype=np.int64)
    values = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    before = group_table("case", ids, values, read_vectors, dim)
    read.clear()
    # "b" loses image 5, "c" gains 13 and 14, "d" is new; "a" is as it was
    later_ids = np.asarray([1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 20], dtype=np.int64)
    later_values = ["a"] * 4 + ["b"] * 3 + ["c"] * 6 + ["d"]
    after = group_table("case", later_ids, later_values, read_vectors, dim, previous=before)
    assert read == [[6, 7, 8], [9, 10, 11, 12, 13, 14], [20]]
    np.testing.assert_array_equal(after.vectors[0], before.vectors[0])
    assert after.find("c") == 2 and after.find("nothing") is None


def test_a_damaged_group_file_is_found_by_verify_deep_and_rewritten_by_the_next_run(
    ct_series_index_dir: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    copy = tmp_path / "index"
    shutil.copytree(ct_series_index_dir, copy)
    damaged = GroupFiles(copy, "study").path("f16")
    original = damaged.read_bytes()
    damaged.write_bytes(bytes([original[0] ^ 0xFF]) + original[1:])
    assert verify_index(copy) == []  # the plain check reads no group file
    problems = verify_index(copy, deep=True)
    assert any(GroupFiles(copy, "study").name("f16") in p for p in problems), problems
    run_cli("index", CT_SERIES_DIR, "--index", copy, *tiny_model_args(tiny_model_dir))
    assert damaged.read_bytes() == original
    assert verify_index(copy, deep=True) == []


def test_group_fields_come_from_the_environment_comma_separated() -> None:
    settings = Settings.from_env({"MEDSEARCH_GROUP_FIELDS": "case, patient,case"})
    assert settings.group_field_names == ("case", "patient")
    assert Settings().group_field_names == ()


def test_an_index_without_group_fields_reads_as_having_none(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    """An index_info.json written before group fields existed has none."""
    data = json.loads(IndexFolder(sample_index_dir).info_path.read_text())
    assert data["group_fields"] == ["series_key", "study_key"]  # the sample's DICOMs carry keys
    del data["group_fields"]
    older = IndexFolder(tmp_path)
    older.info_path.write_text(json.dumps(data))
    assert older.read_info().group_fields is None
