"""The run summary names what it did not index: skipped files, sidecar rows and columns."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from tests.support.helpers import SAMPLE_IMAGES, run_cli, tiny_model_args


def _corpus_with_other_files(root: Path, others: int) -> Path:
    root.mkdir()
    for name in ("cxr_01.jpg", "histo_01.png"):
        shutil.copy(SAMPLE_IMAGES / name, root / name)
    for n in range(others):
        (root / f"note_{n:02}.txt").write_text("not an image")
    return root


def test_skipped_files_are_named(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = _corpus_with_other_files(tmp_path / "corpus", others=7)
    index = tmp_path / "index"
    report = json.loads(
        run_cli("index", corpus, "--index", index, "--json", *tiny_model_args(tiny_model_dir))
    )
    assert report["skipped"] == {"not an image": 7}
    assert report["skipped_files"] == [
        {"path": f"note_{n:02}.txt", "reason": "not an image"} for n in range(7)
    ]
    text = run_cli("index", corpus, "--index", index, *tiny_model_args(tiny_model_dir))
    names = ", ".join(f"note_{n:02}.txt" for n in range(5))
    assert f"  skipped: {names} and 2 more (see --json)\n" in text


def test_a_sidecar_that_names_no_file_and_reserved_columns_is_reported(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = _corpus_with_other_files(tmp_path / "corpus", others=0)
    sidecar = tmp_path / "metadata.csv"
    sidecar.write_text(
        "id,file,format,width,caption\n"
        "A-1,cxr_01.jpg,jpeg,9999,a chest film\n"
        "A-2,images/histo_01.png,png,,a slide\n"
        "A-3,gone.png,png,,\n"
    )
    args: list[str | Path] = ["index", corpus, "--index", tmp_path / "index", "--metadata", sidecar]
    report = json.loads(run_cli(*args, "--json", *tiny_model_args(tiny_model_dir)))
    assert report["sidecar"] == {
        "rows": 3,
        "unmatched": 2,
        "unmatched_paths": ["gone.png", "images/histo_01.png"],
        "set_aside_columns": ["format", "width"],
        "renamed_columns": {"id": "sidecar_id"},
    }
    text = run_cli(*args, *tiny_model_args(tiny_model_dir))
    assert "metadata: 2 of 3 rows name no file of the corpus" in text
    assert "no such file: gone.png, images/histo_01.png" in text
    assert "metadata columns set aside (the index measures them itself): format, width" in text
    assert "metadata column id stored as sidecar_id" in text
    db = sqlite3.connect(tmp_path / "index" / "meta.sqlite")
    rows = dict(db.execute("SELECT path, extra FROM images"))
    assert json.loads(rows["cxr_01.jpg"]) == {"sidecar_id": "A-1"}
    ((fmt, width),) = db.execute("SELECT format, width FROM images WHERE path = 'cxr_01.jpg'")
    assert fmt == "jpeg" and width != 9999
