"""Constants and helpers shared by the test modules (fixtures stay in the conftest files)."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
from click.testing import CliRunner
from PIL import Image

from indexer.cli import cli
from indexer.storage.group_key import GROUP_KEY_BYTES, write_group_key

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO / "data" / "sample"
SAMPLE_IMAGES = SAMPLE_DIR / "images"
SAMPLE_METADATA = SAMPLE_DIR / "metadata.csv"
SAMPLE_COUNT = 32
#: four real CT series of three studies, 250 slices (see its README)
CT_SERIES_DIR = REPO / "tests" / "data" / "ct_series"
#: results per page of the search page, read from the page's own script
PAGE_SIZE = int(
    re.search(  # type: ignore[union-attr]
        r"const PAGE_SIZE = (\d+);", (REPO / "web" / "static" / "app.js").read_text("utf-8")
    ).group(1)
)


def run_cli(*args: str | Path) -> str:
    """Invoke the real ``medsearch`` command in-process and return what it printed on stdout
    (warnings go to stderr); fail with all its output if it fails."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def all_commands(
    group: click.Group = cli, ctx: click.Context | None = None
) -> list[tuple[str, click.Command]]:
    """Every command and subcommand of ``group`` (front ends included), named as typed."""
    ctx = ctx or click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        found.append((name, command))
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", c) for sub, c in all_commands(command, ctx)]
    return found


def tiny_model_args(model_dir: Path) -> list[str]:
    """CLI options that index with the tiny test model on the CPU."""
    return ["--model", str(model_dir), "--device", "cpu", "--precision", "fp32", "--quiet"]


def seed_group_key(index_dir: Path, seed: int) -> bytes:
    """Give the index to be built in ``index_dir`` a group key drawn from ``seed``, so that its
    series and study keys, and so its bytes, are the same on every test run."""
    key = random.Random(seed).randbytes(GROUP_KEY_BYTES)
    index_dir.mkdir(parents=True, exist_ok=True)
    write_group_key(index_dir, key)
    return key


def index_sample(index_dir: Path, model_dir: Path, *options: str) -> Path:
    """Index the 32 sample images with their metadata into ``index_dir`` by the real CLI (with a
    seeded group key, :func:`seed_group_key`, and more ``options`` of ``medsearch index``)."""
    seed_group_key(index_dir, 0)
    run_cli(
        "index",
        SAMPLE_DIR,
        "--index",
        index_dir,
        "--metadata",
        SAMPLE_METADATA,
        *tiny_model_args(model_dir),
        *options,
    )
    return index_dir


def many_distinct_images(root: Path, n: int) -> Path:
    """``n`` distinct JPEGs made from the sample X-rays (seeded pixel changes)."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sources = sorted(SAMPLE_IMAGES.glob("cxr_*.jpg"))
    for i in range(n):
        pixels = np.array(Image.open(sources[i % len(sources)]).convert("L").resize((160, 160)))
        pixels[rng.integers(0, 160), rng.integers(0, 160)] = rng.integers(0, 255)
        Image.fromarray(pixels).save(root / f"img_{i:04d}.jpg", quality=90)
    return root


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Check that a Flask test response is the API's one error shape with ``status``."""
    body = response.get_json(silent=True)
    assert response.status_code == status, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body


def modules_loaded_by(imports: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of ``candidates`` a fresh interpreter has loaded after ``import <imports>``."""
    code = f"import sys, {imports}; print(sorted(m for m in {candidates!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return [name.strip(" '") for name in out.stdout.strip()[1:-1].split(",") if name.strip()]


@dataclass(frozen=True)
class GrowingIndex:
    """A corpus folder and its index, grown a few sample images at a time by the real CLI."""

    corpus: Path
    index_dir: Path
    model_dir: Path

    @classmethod
    def at(cls, folder: Path, model_dir: Path) -> GrowingIndex:
        (folder / "corpus").mkdir(parents=True)
        return cls(folder / "corpus", folder / "index", model_dir)

    def add(self, *names: str) -> None:
        """Copy these sample images into the corpus and index it (a new version)."""
        for name in names:
            shutil.copy(SAMPLE_IMAGES / name, self.corpus)
        run_cli("index", self.corpus, "--index", self.index_dir, *tiny_model_args(self.model_dir))
