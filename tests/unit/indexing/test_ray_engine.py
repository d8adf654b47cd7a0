"""The ray engine against the threaded one, on a real local Ray runtime (``ray_runtime``), and
its errors where Ray is missing or its cluster cannot be reached."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from indexer.cli import cli
from indexer.fault_points import FAULT_POINT_VARIABLE
from indexer.storage.group_key import read_group_key, write_group_key
from indexer.storage.vectors import VectorFile
from indexer.storage.verify import verify_index
from tests.support.helpers import (
    SAMPLE_COUNT,
    SAMPLE_DIR,
    SAMPLE_IMAGES,
    SAMPLE_METADATA,
    run_cli,
    tiny_model_args,
)
from tests.support.orthanc import Orthanc
from tests.unit.sources.test_pacs import stored_identifiers

_COLUMNS = "id, path, sha256, size, width, height, format, modality, caption, extra"


def _ray_index(corpus: Path | str, index_dir: Path, model_dir: Path, *extra: str) -> dict[str, Any]:
    args = [
        "index",
        str(corpus),
        "--index",
        str(index_dir),
        *tiny_model_args(model_dir),
        *("--engine", "ray", "--workers", "1", "--batch-size", "8", "--json", *extra),
    ]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # the summary is the last thing on stdout (Ray prints there that a worker died)
    summary = result.stdout[result.stdout.rfind("\n{\n") + 1 :]
    report: dict[str, Any] = json.loads(summary)
    assert report["engine"] == "ray"
    return report


def _images(index_dir: Path) -> dict[str, tuple[Any, ...]]:
    with sqlite3.connect(index_dir / "meta.sqlite") as db:
        rows = db.execute(f"SELECT {_COLUMNS} FROM images ORDER BY id").fetchall()
    return {row[1]: row for row in rows}


def _failures(index_dir: Path) -> list[dict[str, Any]]:
    failures: list[dict[str, Any]] = json.loads(run_cli("info", index_dir, "--json"))["failures"]
    return failures


def _vectors(index_dir: Path, ids: list[int]) -> np.ndarray:
    dim = json.loads((index_dir / "index_info.json").read_text("utf-8"))["dim"]
    return VectorFile(index_dir / "vectors.f16", dim).read(ids)


@pytest.mark.slow
@pytest.mark.usefixtures("ray_runtime")
def test_the_ray_built_index_equals_the_threaded_one(
    tmp_path: Path, tiny_model_dir: Path, sample_index_dir: Path
) -> None:
    ray_dir = tmp_path / "ray-index"
    ray_dir.mkdir()
    # the threaded index's group key, so that both store the same series and study keys
    write_group_key(ray_dir, read_group_key(sample_index_dir) or b"")
    report = _ray_index(SAMPLE_DIR, ray_dir, tiny_model_dir, "--metadata", str(SAMPLE_METADATA))
    assert report["stage_seconds"]["prepare"] > 0 and report["stage_seconds"]["embed"] > 0

    threaded, by_ray = _images(sample_index_dir), _images(ray_dir)
    assert by_ray == threaded  # same ids, paths, contents and metadata
    assert _failures(ray_dir) == _failures(sample_index_dir)
    ids = [row[0] for row in threaded.values()]
    a, b = _vectors(sample_index_dir, ids), _vectors(ray_dir, ids)
    cosines = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cosines.min() >= 0.9999, cosines.min()
    assert "consistent" in run_cli("verify", ray_dir, "--deep")


@pytest.mark.slow
@pytest.mark.usefixtures("ray_runtime")
def test_a_ray_rerun_embeds_only_new_content(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE_IMAGES, corpus)
    index_dir = tmp_path / "index"
    first = _ray_index(corpus, index_dir, tiny_model_dir)
    assert first["indexed"] == first["embedded"] == first["count"]

    # one new picture, a copy of it (same run) and a copy of an indexed file
    new = np.asarray(Image.open(SAMPLE_IMAGES / "cxr_01.jpg").convert("L")).copy()
    new[:16, :16] = 255
    Image.fromarray(new).save(corpus / "new.png")
    shutil.copy(corpus / "new.png", corpus / "new_copy.png")
    shutil.copy(corpus / "cxr_02.jpg", corpus / "old_copy.jpg")
    second = _ray_index(corpus, index_dir, tiny_model_dir)
    assert (second["indexed"], second["embedded"], second["duplicates"]) == (3, 1, 2)
    assert second["unchanged"] == first["count"]
    assert second["count"] == first["count"] + 3

    images = _images(index_dir)
    pairs = [("new.png", "new_copy.png"), ("cxr_02.jpg", "old_copy.jpg")]
    for original, copy in pairs:
        a, b = _vectors(index_dir, [images[original][0], images[copy][0]])
        np.testing.assert_array_equal(a, b)
    assert run_cli("verify", index_dir).strip().endswith("consistent")
    third = _ray_index(corpus, index_dir, tiny_model_dir)
    assert (third["indexed"], third["embedded"]) == (0, 0)


class _ActorKiller(threading.Thread):
    """Kills the first embedding actor process it sees, then notes every one that follows."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: set[int] = set()
        self.killed: int | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.02):
            for proc in Path("/proc").iterdir():
                if proc.name.isdigit() and int(proc.name) not in self.seen:
                    try:
                        title = (proc / "cmdline").read_bytes()
                    except OSError:  # gone meanwhile
                        continue
                    if b"MapBatches(_EmbedActor)" in title:
                        self.seen.add(int(proc.name))
                        if self.killed is None:
                            os.kill(int(proc.name), signal.SIGKILL)
                            self.killed = int(proc.name)


@pytest.mark.slow
@pytest.mark.usefixtures("ray_runtime")
def test_a_lost_embedding_actor_is_replaced_and_the_run_finishes(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    killer = _ActorKiller()
    killer.start()
    try:
        report = _ray_index(SAMPLE_DIR, tmp_path / "index", tiny_model_dir)
    finally:
        killer.stopping.set()
        killer.join()
    assert killer.killed is not None and len(killer.seen) >= 2, killer.seen
    assert report["count"] == report["indexed"] == SAMPLE_COUNT
    assert verify_index(tmp_path / "index", deep=True) == []


@pytest.mark.slow
@pytest.mark.usefixtures("ray_runtime")
def test_a_pacs_indexed_on_ray_equals_the_threaded_index(
    orthanc: Orthanc, pacs_index_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # the workers retrieve the instances from the PACS themselves, with the run's credentials
    ray_dir = tmp_path / "ray-pacs"
    ray_dir.mkdir()
    # the same group key, so that the series and study keys can be compared
    write_group_key(ray_dir, read_group_key(pacs_index_dir) or b"")
    with pytest.MonkeyPatch.context() as patch:
        orthanc.use_credentials(patch)
        report = _ray_index(orthanc.dicomweb, ray_dir, tiny_model_dir)
    assert report["count"] == len(_images(pacs_index_dir))
    assert _images(ray_dir) == _images(pacs_index_dir)
    assert stored_identifiers(ray_dir) == stored_identifiers(pacs_index_dir)
    assert _failures(ray_dir) == _failures(pacs_index_dir)


@pytest.mark.slow
@pytest.mark.usefixtures("ray_runtime")
def test_a_killed_driver_loses_nothing_committed_and_a_rerun_finishes(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    import ray

    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE_IMAGES, corpus)
    index_dir = tmp_path / "index"
    # a driver of its own joins the running cluster and is killed between writing the second
    # batch's vectors and committing its rows
    gcs = ray.get_runtime_context().gcs_address
    env = {**os.environ, FAULT_POINT_VARIABLE: "batch:after-vectors@2"}
    killed = _index_in_a_new_process(
        tmp_path, tiny_model_dir, "--ray-address", gcs, "--batch-size", "8", corpus=corpus, env=env
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert len(_images(index_dir)) == 8  # the first batch, committed

    report = _ray_index(corpus, index_dir, tiny_model_dir)
    assert report["indexed"] == report["count"] - 8
    assert report["unchanged"] == 8
    assert verify_index(index_dir, deep=True) == []


def _index_in_a_new_process(
    tmp_path: Path,
    model_dir: Path,
    *options: str,
    prelude: str = "",
    corpus: Path = SAMPLE_DIR,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``medsearch index --engine ray`` in a process of its own, where Ray is not started."""
    args = ["index", str(corpus), "--index", str(tmp_path / "index")]
    args += [*tiny_model_args(model_dir), "--engine", "ray", *options]
    code = f"import sys; {prelude}from indexer.cli import cli; cli(sys.argv[1:])"
    command = [sys.executable, "-c", code, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_an_unreachable_ray_cluster_is_a_clear_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens at
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Ray itself would wait minutes for a cluster at HOST:PORT; the engine fails at once
    address = f"127.0.0.1:{port}"
    result = _index_in_a_new_process(tmp_path, tiny_model_dir, "--ray-address", address)
    assert result.returncode == 1, result.stderr
    assert f"Error: cannot reach the Ray cluster at {address}" in result.stderr
    assert not (tmp_path / "index" / "vectors.f16").exists()


@pytest.mark.slow
def test_the_ray_engine_without_ray_says_how_to_install_it(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    # an interpreter where `import ray` fails, as it does where Ray is not installed
    result = _index_in_a_new_process(
        tmp_path, tiny_model_dir, prelude="sys.modules['ray'] = None; "
    )
    assert result.returncode == 1, result.stderr
    assert "the ray engine needs Ray Data" in result.stderr
    assert "pip install 'medsearch[ray]'" in result.stderr
