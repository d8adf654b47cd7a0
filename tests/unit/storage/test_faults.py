"""A full disk at any write: a one-line error and exit status 3, the published index intact and
served, nothing half-written left behind, and the next run after space is freed finishes the job.

Two ways to run out of space: a small tmpfs (needs permission to mount; skipped otherwise), and
a file-size limit (``RLIMIT_FSIZE``, with SIGXFSZ ignored so a write past it fails with EFBIG)
set in a child process around one kind of write.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from flask import Flask

from indexer import ann
from indexer.cli import cli
from indexer.cli.options import DISK_FULL_EXIT_CODE
from indexer.errors import DiskFullError
from indexer.settings import Settings
from indexer.storage.atomic import reporting_disk_full
from indexer.storage.folder import IndexFolder
from indexer.storage.metadata_db import Store
from indexer.storage.vectors import VectorFile
from indexer.storage.verify import verify_index
from search_api import create_app
from search_api.thumbnails import RenderCache
from tests.support.helpers import SAMPLE_IMAGES, run_cli

_DIM = 128

pytestmark = pytest.mark.slow  # child processes, a model, an index run each


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(disk: Path) -> Path:
    """A file taking every free byte of ``disk``."""
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65_536)
                handle.flush()
        except OSError:
            pass
    return filler


def _search_total(app: Flask) -> int:
    response = app.test_client().post("/api/search", json={"text": "x-ray", "k": 1})
    assert response.status_code == 200
    total: int = response.get_json()["total"]
    return total


def test_a_full_disk_stops_the_run_cleanly_and_the_next_run_finishes(
    small_disk: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = sorted(p.name for p in SAMPLE_IMAGES.glob("cxr_*.jpg"))
    for name in names[:3]:
        shutil.copy(SAMPLE_IMAGES / name, corpus / name)
    index_dir = small_disk / "index"
    command = ["index", str(corpus), "--index", str(index_dir), "--model", str(tiny_model_dir)]
    command += ["--device", "cpu", "--precision", "fp32", "--batch-size", "2", "--quiet"]
    run_cli(*command)
    published = (index_dir / "index_info.json").read_bytes()
    for name in names[3:]:
        shutil.copy(SAMPLE_IMAGES / name, corpus / name)
    settings = Settings(index_dir=index_dir, device="cpu", precision="fp32", reload_interval=0)
    app = create_app(settings)
    assert _search_total(app) == 3

    filler = _fill(small_disk)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == DISK_FULL_EXIT_CODE, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot write "), result.output
    assert "The last published index is intact" in lines[0]
    assert (index_dir / "index_info.json").read_bytes() == published
    assert not list(index_dir.glob(".*.tmp"))
    assert _search_total(app) == 3  # the running service goes on with the last version

    filler.unlink()
    assert verify_index(index_dir, deep=True) == []
    run_cli(*command)
    assert IndexFolder(index_dir).read_info().count == len(names)
    assert verify_index(index_dir, deep=True) == []
    assert _search_total(app) == len(names)


# -- one kind of write at a time, under a file-size limit ---------------------------------------


def _write_vectors(folder: Path) -> None:
    vectors = np.ones((64, _DIM), dtype=np.float32) / np.sqrt(_DIM)
    first = IndexFolder(folder).read_info().count + 1  # new images get new ids
    VectorFile(folder / "vectors.f16", _DIM).write(np.arange(first, first + 64), vectors)


def _save_ann_index(folder: Path) -> None:
    rng = np.random.default_rng(0)
    index = ann.build("flat", _DIM, np.arange(1, 101), rng.random((100, _DIM), dtype=np.float32))
    ann.save(index, folder / "index.faiss")


def _write_info(folder: Path) -> None:
    index = IndexFolder(folder)
    index.write_info(index.read_info())


def _write_rows(folder: Path) -> None:
    with Store(folder / "meta.sqlite") as store, reporting_disk_full("meta.sqlite"):
        with store.writer() as w:
            w.add_images([_image_row(i) for i in range(200)])


def _image_row(i: int) -> dict[str, Any]:
    return {
        "path": f"new/{i:04d}.png",
        "sha256": f"{i:064x}",
        "size": 1000 + i,
        "mtime": 1.0,
        "width": 64,
        "height": 64,
        "format": "png",
        "modality": "xray",
        "caption": "a caption long enough to fill some pages " * 4,
        "extra": {},
    }


def _limited_child(limit: int, write: Callable[[Path], None], folder: Path, out: Any) -> None:
    """In the child: a file-size limit, then the write; report what it raised."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        write(folder)
    except DiskFullError as exc:
        out.put(("DiskFullError", exc.message))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        out.put((type(exc).__name__, str(exc)))
    else:
        out.put(("ok", ""))


def _run_limited(limit: int, write: Callable[[Path], None], folder: Path) -> tuple[str, str]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=_limited_child, args=(limit, write, folder, out))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0
    kind, message = out.get(timeout=5)
    return str(kind), str(message)


@pytest.mark.parametrize(
    ("write", "name", "limit"),
    [
        # the 32 published rows take 8192 bytes: the new rows are cut off in the middle of one
        (_write_vectors, "vectors.f16", 9000),
        # under every other file's size, so any write that grows one fails
        (_save_ann_index, "index.faiss", 1024),
        (_write_info, "index_info.json", 512),
        (_write_rows, "meta.sqlite", 1024),
    ],
)
def test_a_write_past_a_file_size_limit_is_a_disk_full_error(
    sample_index_dir: Path, tmp_path: Path, write: Callable[[Path], None], name: str, limit: int
) -> None:
    folder = tmp_path / "index"
    shutil.copytree(sample_index_dir, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    kind, message = _run_limited(limit, write, folder)
    assert kind == "DiskFullError", message
    assert message.startswith(f"cannot write {name}: "), message
    assert "The last published index is intact" in message
    for published in ("index_info.json", "index.faiss"):
        assert (folder / published).read_bytes() == before[published]
    assert not list(folder.glob(".*.tmp"))
    # rows past the published ones may have been written, never published
    assert verify_index(folder, deep=True) == []


def _render_and_cache(folder: Path) -> None:
    warnings: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("search_api.thumbnails").addHandler(handler)
    cache = RenderCache(folder, max_bytes=2**20)
    path = cache.path_for("ab" * 32, "thumb", ".jpg")
    data = cache.get(path, lambda: b"\xff\xd8" + b"\0" * 4096)
    assert data == b"\xff\xd8" + b"\0" * 4096  # served all the same
    assert path is not None and not path.exists()
    assert not [p for p in folder.rglob("*") if p.is_file()]  # no half-written file
    assert len(warnings) == 1 and "cannot cache rendering" in warnings[0], warnings
    assert "File too large" in warnings[0], warnings


def test_a_thumbnail_is_served_uncached_when_the_disk_is_full(tmp_path: Path) -> None:
    assert _run_limited(1024, _render_and_cache, tmp_path / "thumbs") == ("ok", "")
