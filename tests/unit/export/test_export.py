"""``medsearch export``: every format gives back the stored vectors and records, filters select
what ``search`` would, and nothing leaves that a search result does not show."""

from __future__ import annotations

import json
import math
import shutil
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.errors import IndexCorruptError, OutputExistsError
from indexer.export import FORMATS, export_index
from indexer.export.clip_retrieval import part_names
from indexer.records import InstanceUIDs
from indexer.storage.folder import IndexFolder
from tests.support.helpers import modules_loaded_by, run_cli
from tests.unit.export.generated import GENERATED_ROWS
from tests.unit.export.readback import expected_row, read_back, stored, without_nulls

ALL_FORMATS = list(FORMATS)


def check_round_trip(index_dir: Path, out: Path, format_name: str, wanted: list[int]) -> None:
    """The export in ``out`` holds exactly the images ``wanted``, in id order, with their
    stored vectors and their records."""
    records, table = stored(index_dir)
    rows, vectors = read_back(out, format_name)
    assert [row["id"] for row in rows] == wanted
    expected_vectors = table[np.array(wanted, dtype=np.int64) - 1]
    if format_name == "clip-retrieval":  # the stored float16 bytes themselves
        assert vectors.dtype == np.float16
        assert np.array_equal(vectors, expected_vectors)
    else:  # float16 widened exactly
        assert np.array_equal(vectors, expected_vectors.astype(np.float32))
    typed = format_name != "jsonl"
    for row in rows:
        expected = expected_row(records[row["id"]], typed_columns=typed)
        assert without_nulls(row) == without_nulls(expected)
        if not typed:  # JSON keeps every value's own type
            assert {k: type(v) for k, v in row.items()} == {k: type(v) for k, v in expected.items()}


@pytest.mark.parametrize("format_name", ALL_FORMATS)
def test_every_format_gives_back_the_stored_vectors_and_records(
    generated_index: Path, tmp_path: Path, format_name: str
) -> None:
    out = tmp_path / "out"
    report = export_index(generated_index, out, format_name, part_rows=1000, block_rows=700)
    records, _ = stored(generated_index)
    assert report.count == GENERATED_ROWS == len(records)
    check_round_trip(generated_index, out, format_name, sorted(records))
    assert not list(tmp_path.glob(".*partial"))


def test_columns_are_typed_by_the_values_their_field_holds(
    generated_index: Path, tmp_path: Path
) -> None:
    export_index(generated_index, tmp_path / "x.parquet", "parquet")
    schema = pq.read_schema(tmp_path / "x.parquet")
    types = {name: str(schema.field(name).type) for name in schema.names}
    assert types["id"] == "int64" and types["width"] == "int64"
    assert types["dose"] == "double"  # integers and reals
    assert types["contrast"] == "bool"
    assert types["mixed"] == "string" and types["cohort"] == "string"
    assert types["embedding"] == "list<element: float>"
    about = json.loads(schema.metadata[b"medsearch"])
    assert about["dim"] == 64 and about["stored_dtype"] == "float16"
    assert about["encoder"]["random_weights"] is True


@pytest.mark.parametrize("format_name", ALL_FORMATS)
@pytest.mark.parametrize(
    ("filters", "test"),
    [
        (["modality=CT", "modality=MR"], lambda m: m.get("modality") in {"CT", "MR"}),
        (["burned_in_annotation=no"], lambda m: m.get("burned_in_annotation") == "no"),
        # text read as the field's type: width holds numbers
        (["width=512", "format=jpeg"], lambda m: m.get("width") == 512 and m["format"] == "jpeg"),
    ],
)
def test_filters_select_what_they_select_in_a_search(
    sample_index_dir: Path, tmp_path: Path, format_name: str, filters: list[str], test: Any
) -> None:
    records, _ = stored(sample_index_dir)
    wanted = sorted(i for i, record in records.items() if test(record.metadata()))
    assert 0 < len(wanted) < len(records)
    options = [arg for f in filters for arg in ("--filter", f)]
    out = tmp_path / "out"
    summary = json.loads(
        run_cli("export", sample_index_dir, "--out", out, "--format", format_name, *options,
                "--json", "--quiet")
    )  # fmt: skip
    assert summary["count"] == len(wanted)
    check_round_trip(sample_index_dir, out, format_name, wanted)


def test_clip_retrieval_parts_are_numbered_as_clip_retrieval_numbers_them(
    generated_index: Path, tmp_path: Path
) -> None:
    assert part_names(0, 10) == []
    assert part_names(10, 10) == ["0"]
    # clip-retrieval's own rule: int(log10(parts)) + 1 digits
    assert part_names(9, 1) == [str(n) for n in range(9)]
    assert part_names(10, 1) == [f"{n:02d}" for n in range(10)]
    report = export_index(generated_index, tmp_path / "out", part_rows=280)
    parts = math.ceil(GENERATED_ROWS / 280)
    assert report.files == sorted(
        [f"img_emb/img_emb_{n:02d}.npy" for n in range(parts)]
        + [f"metadata/metadata_{n:02d}.parquet" for n in range(parts)]
    )
    sizes = [len(np.load(tmp_path / "out" / f)) for f in report.files if f.endswith(".npy")]
    assert sizes == [280] * (parts - 1) + [GENERATED_ROWS - 280 * (parts - 1)]


def traced_peak(run: Any) -> int:
    """The most memory Python's allocator (numpy's included) held at once during ``run()``."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("format_name", ALL_FORMATS)
def test_an_export_holds_one_block_at_a_time(
    generated_index: Path, tmp_path: Path, format_name: str
) -> None:
    def export(name: str, block_rows: int, progress: Any = None) -> None:
        export_index(
            generated_index, tmp_path / name, format_name, block_rows=block_rows, progress=progress
        )

    export("warm", 250)  # first-use imports and caches out of the measurement
    seen: list[int] = []
    in_blocks = traced_peak(lambda: export("blocks", 250, lambda done, _: seen.append(done)))
    whole = traced_peak(lambda: export("whole", GENERATED_ROWS))
    blocks = math.ceil(GENERATED_ROWS / 250)
    assert seen == [min(250 * n, GENERATED_ROWS) for n in range(1, blocks + 1)]
    assert in_blocks < whole / 4


def test_nothing_leaves_but_what_a_search_result_shows(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index_dir, index)
    uids = InstanceUIDs("1.2.826.0.1.3680043.99.1", "1.2.826.0.1.3680043.99.2", "1.2.826.0.1.99.3")
    with IndexFolder(index).open_store() as store, store.writer() as writer:
        writer.add_identifiers([(1, uids), (2, uids)])
    records, _ = stored(index)
    secrets = [*uids, *(r.sha256 for r in records.values())]
    for format_name in ALL_FORMATS:
        out = tmp_path / format_name
        export_index(index, out, format_name)
        rows, _ = read_back(out, format_name)
        fields = {field for record in records.values() for field in record.metadata()}
        assert set().union(*rows) <= {"id", "image_path", "caption", *fields}
        cells = json.dumps(rows)
        assert not [s for s in secrets if s in cells]
        for path in [out] if out.is_file() else out.rglob("*.parquet"):
            assert all(s.encode() not in path.read_bytes() for s in secrets)


def run_export(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["export", *map(str, args), "--quiet"])
    return result.exit_code, result.output


def test_an_existing_output_or_one_inside_the_index_is_refused(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "taken.jsonl"
    out.write_text("mine\n")
    code, output = run_export(sample_index_dir, "--out", out, "--format", "jsonl")
    assert code == 1 and "exists" in output
    assert out.read_text() == "mine\n"
    with pytest.raises(OutputExistsError):
        export_index(sample_index_dir, tmp_path, "clip-retrieval")
    code, output = run_export(sample_index_dir, "--out", sample_index_dir / "export")
    assert code == 2 and "outside the index folder" in output
    assert not (sample_index_dir / "export").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("nosuchfield=1", "unknown filter field 'nosuchfield'"),
        ("width=wide", "cannot match its values, which are numbers"),
        ("modality", "--filter needs FIELD=VALUE"),
    ],
)
def test_bad_filters_exit_2_and_write_nothing(
    sample_index_dir: Path, tmp_path: Path, option: str, message: str
) -> None:
    code, output = run_export(sample_index_dir, "--out", tmp_path / "out", "--filter", option)
    assert code == 2 and message in output
    assert list(tmp_path.iterdir()) == []


def test_a_filter_matching_nothing_names_the_stored_case(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "none.parquet"
    code, output = run_export(sample_index_dir, "--out", out, "--format", "parquet",
                              "--filter", "modality=ct")  # fmt: skip
    assert code == 0, output
    assert "did you mean --filter modality=CT?" in output and "exported 0 images" in output
    assert pq.read_table(out).num_rows == 0


def test_an_export_that_fails_leaves_nothing(generated_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(generated_index, index)
    vectors = IndexFolder(index).vectors_path
    with open(vectors, "r+b") as handle:  # the last rows lost
        handle.truncate(vectors.stat().st_size // 2)
    for format_name in ALL_FORMATS:
        with pytest.raises(IndexCorruptError):
            export_index(index, tmp_path / "out", format_name, block_rows=500)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_the_command_line_loads_no_array_or_database_library() -> None:
    assert modules_loaded_by("indexer.cli", ("numpy", "pyarrow", "sqlalchemy")) == []
