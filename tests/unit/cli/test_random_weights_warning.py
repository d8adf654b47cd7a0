"""``search`` and ``serve`` warn, like ``info`` and ``eval``, about an index of random weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from indexer.cli import cli
from indexer.records import random_weights_warning


def test_search_warns_on_stderr_that_the_weights_are_random(sample_index_dir: Path) -> None:
    args = ["search", str(sample_index_dir), "--text", "chest", "-k", "2"]
    result = CliRunner().invoke(cli, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert random_weights_warning(sample_index_dir) in result.stderr
    assert "random weights" not in result.stdout
    as_json = CliRunner().invoke(cli, [*args, "--json"])
    assert random_weights_warning(sample_index_dir) in as_json.stderr


def test_serve_warns_on_stderr_before_it_serves(sample_index_dir: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "indexer", "serve", str(sample_index_dir), "--port", "0"],
        env={**os.environ, "MEDSEARCH_DEVICE": "cpu"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first_line = server.stdout.readline()
        assert "MedSearch is serving" in first_line
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=60)
    assert random_weights_warning(sample_index_dir) in errors
