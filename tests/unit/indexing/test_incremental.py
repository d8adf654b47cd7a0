"""Incremental, crash-safe indexing: re-runs, changes, copies, bad files, prune, kill -9
(timed, and at each named fault point while a service answers from the same index)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from indexer.cli import cli
from indexer.fault_points import FAULT_POINT_VARIABLE
from indexer.storage.verify import verify_index
from tests.support.helpers import SAMPLE_IMAGES, many_distinct_images, run_cli
from tests.support.serving import serve


def _index(corpus: Path, index_dir: Path, model: Path, *extra: str) -> dict:
    out = run_cli(
        "index",
        corpus,
        "--index",
        index_dir,
        "--model",
        model,
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--json",
        "--batch-size",
        "4",
        *extra,
    )
    return json.loads(out)


def _small_corpus(root: Path, names: list[str]) -> Path:
    root.mkdir(parents=True)
    for name in names:
        shutil.copy(SAMPLE_IMAGES / name, root / name)
    return root


def test_changes_copies_and_prune(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = _small_corpus(tmp_path / "corpus", ["cxr_01.jpg", "cxr_02.jpg", "dcm_ct_small.dcm"])
    index_dir = tmp_path / "index"
    first = _index(corpus, index_dir, tiny_model_dir)
    assert (first["indexed"], first["count"]) == (3, 3)

    # a byte-identical copy is stored as its own image but embedded only once
    shutil.copy(corpus / "cxr_01.jpg", corpus / "copy_of_01.jpg")
    # a changed file is embedded again under a new id; a touched one is not
    Image.open(SAMPLE_IMAGES / "cxr_03.jpg").save(corpus / "cxr_02.jpg", format="JPEG")
    os.utime(corpus / "dcm_ct_small.dcm", (time.time() + 5, time.time() + 5))
    second = _index(corpus, index_dir, tiny_model_dir)
    assert second["indexed"] == 2
    assert second["duplicates"] == 1
    assert second["updated"] == 1
    assert second["unchanged"] == 2  # cxr_01, and the touched DICOM (same bytes, new mtime)
    assert second["count"] == 4
    assert verify_index(index_dir) == []

    db = sqlite3.connect(index_dir / "meta.sqlite")
    rows = dict(db.execute("SELECT path, id FROM images"))
    from indexer.storage.vectors import VectorFile

    vectors = VectorFile(index_dir / "vectors.f16", 128)
    a, b = vectors.read([rows["cxr_01.jpg"], rows["copy_of_01.jpg"]])
    np.testing.assert_array_equal(a, b)

    (corpus / "cxr_01.jpg").unlink()
    kept = _index(corpus, index_dir, tiny_model_dir)
    assert kept["missing"] == 1 and kept["count"] == 4
    pruned = _index(corpus, index_dir, tiny_model_dir, "--prune")
    assert pruned["pruned"] == 1 and pruned["count"] == 3
    assert verify_index(index_dir) == []


def test_a_rerun_that_adds_metadata_counts_what_it_changed(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = _small_corpus(tmp_path / "corpus", ["cxr_01.jpg", "cxr_02.jpg", "dcm_ct_small.dcm"])
    index_dir = tmp_path / "index"
    first = _index(corpus, index_dir, tiny_model_dir)
    assert first["metadata_updated"] == 0
    sidecar_file = tmp_path / "metadata.csv"
    sidecar = str(sidecar_file)
    sidecar_file.write_text("path,caption\ncxr_01.jpg,a chest film\ncxr_02.jpg,another one\n")
    second = _index(corpus, index_dir, tiny_model_dir, "--metadata", sidecar)
    assert (second["indexed"], second["updated"], second["unchanged"]) == (0, 0, 3)
    assert second["metadata_updated"] == 2
    same_again = _index(corpus, index_dir, tiny_model_dir, "--metadata", sidecar)
    assert same_again["metadata_updated"] == 0
    sidecar_file.write_text("path,caption\ncxr_01.jpg,a chest film\ncxr_02.jpg,changed\n")
    args = ["--model", str(tiny_model_dir), "--device", "cpu", "--quiet", "--metadata", sidecar]
    shown = run_cli("index", corpus, "--index", index_dir, *args)
    assert "updated 0, metadata updated 1," in shown


def test_the_progress_bar_ends_on_the_rate_the_summary_prints(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    names = ["cxr_01.jpg", "cxr_02.jpg", "cxr_03.jpg", "dcm_ct_small.dcm", "dcm_mr_small.dcm"]
    corpus = _small_corpus(tmp_path / "corpus", names)
    (corpus / "notes.txt").write_text("not an image")  # skipped files count on both sides
    args = ["--model", str(tiny_model_dir), "--device", "cpu", "--batch-size", "2"]
    result = CliRunner().invoke(cli, ["index", str(corpus), "--index", str(tmp_path / "ix"), *args])
    assert result.exit_code == 0, result.output
    bar_rates = re.findall(r"(\d+)/6 files \[[^]]*, ([\d.]+) files/s\]", result.stderr)
    assert bar_rates and bar_rates[-1][0] == "6", result.stderr
    summary = re.search(r"\((\d+) files processed at ([\d.]+) files/s;", result.stdout)
    assert summary is not None, result.stdout
    assert summary.group(1) == "6"
    assert float(bar_rates[-1][1]) == pytest.approx(float(summary.group(2)), rel=0.01)


def _write_bad_files(corpus: Path) -> dict[str, str]:
    data = (SAMPLE_IMAGES / "cxr_04.jpg").read_bytes()
    (corpus / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (corpus / "notes.png").write_text("this is not an image")
    (corpus / "README.txt").write_text("a corpus readme")
    (corpus / "empty.dcm").write_bytes(b"")
    return {"truncated.jpg": "truncated", "notes.png": "not_image", "empty.dcm": "not_image"}


def test_bad_files_are_recorded_not_fatal(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = _small_corpus(tmp_path / "corpus", ["cxr_05.jpg", "fundus_02.png"])
    expected = _write_bad_files(corpus)
    index_dir = tmp_path / "index"
    report = _index(corpus, index_dir, tiny_model_dir)
    assert report["count"] == 2
    assert report["skipped"] == {"not an image": 1}
    failed = {f["path"]: f["reason"] for f in report["failed"]}
    assert failed == expected
    info = json.loads(run_cli("info", index_dir, "--json"))
    assert info["failed"] == 3
    assert {f["path"] for f in info["failures"]} == set(expected)
    # unchanged bad files are not retried, and a repaired one is indexed
    shutil.copy(SAMPLE_IMAGES / "cxr_04.jpg", corpus / "truncated.jpg")
    again = _index(corpus, index_dir, tiny_model_dir)
    assert again["indexed"] == 1 and again["count"] == 3
    assert json.loads(run_cli("info", index_dir, "--json"))["failed"] == 2


def test_exit_code_is_1_when_nothing_could_be_read(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write_bad_files(corpus)
    result = CliRunner().invoke(
        cli,
        [
            "index",
            str(corpus),
            "--index",
            str(tmp_path / "i"),
            "--model",
            str(tiny_model_dir),
            "--quiet",
        ],
    )
    assert result.exit_code == 1
    assert "no file could be read" in result.output


def _count_rows(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM images").fetchone()[0])
    except sqlite3.Error:
        return 0


def _index_command(corpus: Path, index_dir: Path, model: Path) -> list[str]:
    """``medsearch index`` as its own process, for runs that are killed."""
    return [
        sys.executable,
        "-m",
        "indexer",
        "index",
        str(corpus),
        "--index",
        str(index_dir),
        "--model",
        str(model),
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--batch-size",
        "4",
        "--quiet",
    ]


def _has_rows(db_path: Path, rows: int) -> Callable[[], bool]:
    return lambda: _count_rows(db_path) >= rows


def _kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` (polled); fail if it finishes first."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _run_killed_at(command: list[str], fault_point: str) -> None:
    """Run ``command`` until it kills itself at ``fault_point`` (MEDSEARCH_FAULT_POINT)."""
    env = {**os.environ, FAULT_POINT_VARIABLE: fault_point}
    proc = subprocess.run(command, env=env, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode(errors="replace")[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_rows", [0, 20])
def test_kill_mid_run_then_rerun_is_consistent(
    tmp_path: Path, tiny_model_dir: Path, kill_after_rows: int
) -> None:
    n = 60
    corpus = many_distinct_images(tmp_path / "corpus", n)
    index_dir = tmp_path / "index"
    command = _index_command(corpus, index_dir, tiny_model_dir)
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after_rows == 0:
        _kill_when(proc, (index_dir / "index_info.json").exists)
    else:
        _kill_when(proc, _has_rows(index_dir / "meta.sqlite", kill_after_rows))
    done = _count_rows(index_dir / "meta.sqlite")
    assert done < n

    report = _index(corpus, index_dir, tiny_model_dir)
    assert report["count"] == n
    assert report["indexed"] == n - done
    assert verify_index(index_dir, deep=True) == []
    db = sqlite3.connect(index_dir / "meta.sqlite")
    assert db.execute("SELECT count(DISTINCT path) FROM images").fetchone()[0] == n


class _Poller(threading.Thread):
    """Searches a running service without pause; keeps every answer that is not a 200 from a
    whole published version (a count outside ``allowed``)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.allowed: set[int] = set()
        self.answers = 0
        self.last_total: int | None = None
        self.bad: list[str] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        body = json.dumps({"text": "chest x-ray", "k": 3}).encode()
        while not self._stopping.is_set():
            request = urllib.request.Request(
                self.url + "/api/search", body, {"Content-Type": "application/json"}
            )
            allowed = set(self.allowed)
            try:
                with _OPENER.open(request, timeout=30) as response:
                    total = json.loads(response.read())["total"]
            except urllib.error.HTTPError as exc:
                self.bad.append(f"HTTP {exc.code}: {exc.read()[:200]!r}")
                continue
            self.answers += 1
            self.last_total = total
            if total not in allowed | set(self.allowed):
                self.bad.append(f"total {total}, published counts {sorted(allowed)}")
            time.sleep(0.05)  # leave the CPU to the runs being killed

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=60)


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

#: where the runs are killed, in turn: while embedding (timed, after the first new batch is
#: committed), then at each named fault point; each kill is followed by a complete run
_KILLS = [
    "rows",
    "batch:after-vectors@2",
    "publish:after-faiss",
    "atomic:before-rename@1",  # index.faiss written aside
    "atomic:before-rename@2",  # index_info.json written aside
]
_STEP = 8


@pytest.mark.slow
def test_kill_anywhere_while_served_then_rerun(tmp_path: Path, tiny_model_dir: Path) -> None:
    pool = many_distinct_images(tmp_path / "pool", 12 + _STEP * len(_KILLS))
    images = sorted(pool.iterdir())
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for image in images[:12]:
        shutil.copy(image, corpus / image.name)
    index_dir = tmp_path / "index"
    count = _index(corpus, index_dir, tiny_model_dir)["count"]
    command = _index_command(corpus, index_dir, tiny_model_dir)
    with serve(index_dir, env={"MEDSEARCH_RELOAD_INTERVAL": "0.1"}) as server:
        poller = _Poller(server.url)
        poller.allowed = {count}
        poller.start()
        try:
            for step, kill in enumerate(_KILLS):
                for image in images[12 + step * _STEP : 12 + (step + 1) * _STEP]:
                    shutil.copy(image, corpus / image.name)
                poller.allowed = {count, count + _STEP}
                published = (index_dir / "index_info.json").read_bytes()
                if kill == "rows":
                    proc = subprocess.Popen(command, stderr=subprocess.DEVNULL)
                    _kill_when(proc, _has_rows(index_dir / "meta.sqlite", count + 4))
                else:
                    _run_killed_at(command, kill)
                assert (index_dir / "index_info.json").read_bytes() == published, kill
                report = _index(corpus, index_dir, tiny_model_dir)
                count += _STEP
                assert report["count"] == count, kill
                assert verify_index(index_dir, deep=True) == [], kill
                assert not [p for p in index_dir.iterdir() if p.name.endswith(".tmp")]
                # the service takes the new version at its next reload check, not at once
                poller.allowed = {count - _STEP, count}
                deadline = time.monotonic() + 30
                while poller.last_total != count and time.monotonic() < deadline:
                    time.sleep(0.05)
                poller.allowed = {count}
                answered = poller.answers
                while poller.answers < answered + 3 and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            poller.stop()
    assert poller.bad == []
    assert poller.answers > 20
