"""Writes to the metadata database through its unit of work, on a real SQLite database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from indexer.storage.metadata_db import Store
from indexer.storage.schema import DescriptiveFields


def _row(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "path": f"images/{n:05d}.png",
        "sha256": f"{n:064x}",
        "size": 100 + n,
        "mtime": 1.0,
        "width": 8,
        "height": 8,
        "format": "png",
        "modality": None,
        "caption": None,
        "extra": {},
        **fields,
    }


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "meta.sqlite", create=True)


def test_a_unit_of_work_commits_together_or_not_at_all(store: Store) -> None:
    with pytest.raises(RuntimeError), store.writer() as w:
        w.add_images([_row(1), _row(2)])
        w.record_failure("bad.png", 1, 1.0, "unreadable", "not an image")
        raise RuntimeError("the batch's vectors could not be written")
    assert (store.count(), store.failure_count()) == (0, 0)
    with store.writer() as w:
        ids = w.add_images([_row(1), _row(2)])
        w.record_failure("bad.png", 1, 1.0, "unreadable", "not an image")
    assert store.ids().tolist() == ids == [1, 2]
    assert store.failures() == [
        {"path": "bad.png", "reason": "unreadable", "message": "not an image"}
    ]


def test_deletes_and_clears_beyond_one_statements_worth_of_values(store: Store) -> None:
    with store.writer() as w:
        ids = w.add_images([_row(n) for n in range(1200)])
        for n in range(1200):
            w.record_failure(f"bad/{n}.png", 1, 1.0, "unreadable", "no")
    with store.writer() as w:
        w.delete_images(ids[:1100])
        w.clear_failures(f"bad/{n}.png" for n in range(1, 1200))
    assert store.ids().tolist() == ids[1100:]
    assert [f["path"] for f in store.failures()] == ["bad/0.png"]
    assert set(store.get_many(ids)) == set(ids[1100:])


def test_a_sidecar_of_many_statements_worth_of_paths_applies(store: Store) -> None:
    with store.writer() as w:
        w.add_images([_row(1), _row(2, caption="old", extra={"site": "a"})])
    # many times the paths one statement binds, only one of them indexed
    sidecar: dict[str, dict[str, Any]] = {
        f"elsewhere/{n}.png": {"caption": "x"} for n in range(5000)
    }
    sidecar["images/00002.png"] = {"caption": "new", "label": 3, "width": 999}
    with store.writer() as w:
        assert w.apply_sidecar(sidecar) == 1
    record = store.get(2)
    assert (record.caption, record.width, record.extra) == ("new", 8, {"site": "a", "label": 3})
    with store.writer() as w:
        assert w.apply_sidecar(sidecar) == 0  # already applied: nothing changes


def test_sidecar_fields_go_to_their_columns_and_never_over_measured_ones() -> None:
    from_file = DescriptiveFields.read_from_file({"modality": "CT", "body_part": "chest"})
    assert from_file == DescriptiveFields(None, "CT", {"body_part": "chest"})
    described = from_file.with_sidecar(
        {"caption": 12, "modality": None, "sha256": "forged", "format": "jpeg", "label": "x"}
    )
    assert described == DescriptiveFields("12", "CT", {"body_part": "chest", "label": "x"})
    assert from_file.with_sidecar({"modality": "MR"}).modality == "MR"


@pytest.mark.parametrize(
    ("value", "stored", "detail"),
    [
        ("MR (enhanced, multi-frame)", "MR", "enhanced, multi-frame"),
        ("CR (X-ray)", "CR", "X-ray"),
        (" CT ", "CT", None),
        ("fundus photograph", "fundus photograph", None),
        ("MRI (brain)", "MRI (brain)", None),  # not a DICOM code: kept as written
        ("ct", "ct", None),
    ],
)
def test_a_modality_naming_a_dicom_code_is_stored_as_the_code(
    value: str, stored: str, detail: str | None
) -> None:
    from_file = DescriptiveFields.read_from_file({"modality": "MR", "body_part": "head"})
    described = from_file.with_sidecar({"modality": value})
    assert described.modality == stored
    assert described.extra.get("modality_detail") == detail
    assert described.extra["body_part"] == "head"


def test_a_changed_sidecar_modality_replaces_its_detail() -> None:
    described = DescriptiveFields.read_from_file({}).with_sidecar({"modality": "MR (old words)"})
    again = described.with_sidecar({"modality": "MR (new words)"})
    assert (again.modality, again.extra["modality_detail"]) == ("MR", "new words")
