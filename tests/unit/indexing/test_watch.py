"""``medsearch index --watch SECONDS`` keeps indexing what is new, publishing each round."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest

from indexer.storage.folder import IndexFolder
from tests.support.helpers import REPO, SAMPLE_IMAGES, tiny_model_args


def next_report(stream: IO[str]) -> dict[str, Any]:
    """The next run summary ``--json`` prints (one indented JSON object per round)."""
    lines: list[str] = []
    while not lines or lines[-1] != "}\n":
        line = stream.readline()
        assert line, "the watching process ended"
        lines.append(line)
    report: dict[str, Any] = json.loads("".join(lines))
    return report


@pytest.mark.slow
def test_watch_indexes_new_files_each_round_until_stopped(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE_IMAGES / "cxr_01.jpg", corpus)
    index_dir = tmp_path / "index"
    command = [sys.executable, "-m", "indexer", "index", str(corpus), "--index", str(index_dir)]
    command += [*tiny_model_args(tiny_model_dir), "--json", "--watch", "1"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    try:
        first = next_report(process.stdout)
        assert first["indexed"] == 1 and first["count"] == 1
        shutil.copy(SAMPLE_IMAGES / "cxr_02.jpg", corpus)
        rounds = [next_report(process.stdout) for _ in range(2)]
        assert rounds[-1]["count"] == 2 and sum(r["indexed"] for r in rounds) == 1
        assert IndexFolder(index_dir).read_info().count == 2  # published, searchable now
    finally:
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=60)
        process.stdout.close()
    assert returncode == 0
