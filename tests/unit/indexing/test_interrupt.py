"""Ctrl-C keeps the work: an interrupted ``medsearch index`` publishes what it committed, says how
to continue and exits 128 + the signal's number; long runs publish on a time interval."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.storage.folder import IndexFolder
from indexer.storage.verify import verify_index
from tests.support.helpers import REPO, many_distinct_images, tiny_model_args

#: images in the corpus: one per batch, so a run lasts long enough to be interrupted
_IMAGES = 60


def _json_of(*args: str | Path) -> dict[str, Any]:
    """What a ``medsearch`` command run in-process printed as JSON on stdout."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _committed_rows(index_dir: Path) -> int:
    try:
        with sqlite3.connect(index_dir / "meta.sqlite", timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM images").fetchone()[0])
    except sqlite3.Error:
        return 0


def _published(index_dir: Path) -> tuple[int, int]:
    """(generation, count) of the published version, (0, 0) before there is one."""
    try:
        info = json.loads((index_dir / "index_info.json").read_text("utf-8"))
    except (OSError, ValueError):
        return 0, 0
    return int(info["generation"]), int(info["count"])


def _start_index(
    corpus: Path, index_dir: Path, model_dir: Path, *extra: str
) -> subprocess.Popen[str]:
    """``medsearch index`` in its own process, one image per batch."""
    command = [sys.executable, "-m", "indexer", "index", str(corpus), "--index", str(index_dir)]
    command += [*tiny_model_args(model_dir), "--batch-size", "1", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _wait_while_running(proc: subprocess.Popen[str], ready: Callable[[], bool]) -> None:
    """Poll ``ready()`` until it holds; fail if the run ends first."""
    deadline = time.monotonic() + 300
    while proc.poll() is None and not ready():
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be interrupted"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_publishes_what_it_committed_and_the_same_command_continues(
    tmp_path: Path, tiny_model_dir: Path, signum: int
) -> None:
    corpus = many_distinct_images(tmp_path / "corpus", _IMAGES)
    index_dir = tmp_path / "index"
    proc = _start_index(corpus, index_dir, tiny_model_dir)
    _wait_while_running(proc, lambda: _committed_rows(index_dir) >= 3)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 128 + signum, err
    assert "Aborted" not in err and "Traceback" not in err, err
    assert "run the same command again to continue" in out, out
    count = IndexFolder(index_dir).read_info().count
    assert 3 <= count < _IMAGES
    assert count == _committed_rows(index_dir)  # the batch in flight was written or dropped whole
    assert f"\n{count} images in the index" in out, out
    assert int(re.search(r"^indexed (\d+)", out, re.M).group(1)) == count  # type: ignore[union-attr]
    assert verify_index(index_dir, deep=True) == []
    found = _json_of("search", index_dir, "--text", "chest x-ray", "-k", "500", "--json")
    assert found["total"] == count

    again = _json_of(
        "index", corpus, "--index", index_dir, *tiny_model_args(tiny_model_dir), "--json"
    )
    assert (again["indexed"], again["count"], again["interrupted"]) == (
        _IMAGES - count,
        _IMAGES,
        False,
    )
    assert verify_index(index_dir, deep=True) == []


@pytest.mark.slow
def test_a_long_run_publishes_every_checkpoint_interval(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    # enough images to last a few intervals on a fast machine; the run is interrupted anyway
    corpus = many_distinct_images(tmp_path / "corpus", 10 * _IMAGES)
    index_dir = tmp_path / "index"
    proc = _start_index(corpus, index_dir, tiny_model_dir, "--checkpoint-seconds", "1")
    try:
        _wait_while_running(proc, lambda: _published(index_dir)[1] > 0)
        first = _published(index_dir)
        _wait_while_running(proc, lambda: _published(index_dir)[1] > first[1])
        later = _published(index_dir)
        assert later[0] > first[0] and first[1] < later[1] < 10 * _IMAGES
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGINT
