"""The decoder fuzzer: seeded hostile files, decoded by a child that is watched, not trusted."""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.cli import cli
from medsearch_bench.fuzz_bench import CRASH, HANG, _samples, _Worker, make_case
from medsearch_bench.fuzz_mutations import MUTATIONS, png_bomb, png_dimensions
from medsearch_bench.fuzz_worker import DECODED, TYPED
from tests.support.helpers import SAMPLE_IMAGES


@pytest.fixture(scope="module")
def samples() -> list[tuple[str, str, bytes]]:
    return _samples(SAMPLE_IMAGES)


def test_cases_are_seeded_and_mutated(samples: list[tuple[str, str, bytes]]) -> None:
    originals = {data for _, _, data in samples}
    cases = [make_case(samples, 7, n) for n in range(60)]
    assert [make_case(samples, 7, n) for n in range(60)] == cases
    assert make_case(samples, 8, 0) != cases[0]
    assert all(case["data"] not in originals for case in cases)
    kinds = {name for names in MUTATIONS.values() for name in (m.__name__ for m in names)}
    assert {case["mutation"] for case in cases} <= kinds


def test_png_headers_keep_a_valid_crc(samples: list[tuple[str, str, bytes]]) -> None:
    png = next(data for _, kind, data in samples if kind == "png")
    rng = random.Random(3)
    for mutated in (png_dimensions(png, rng), png_bomb(png, rng)):
        length, kind = struct.unpack(">I4s", mutated[8:16])
        body = mutated[16 : 16 + length]
        assert kind == b"IHDR"
        assert struct.unpack(">I", mutated[16 + length : 20 + length])[0] == zlib.crc32(kind + body)


def test_a_png_bomb_is_small_and_claims_a_huge_image(
    samples: list[tuple[str, str, bytes]],
) -> None:
    png = next(data for _, kind, data in samples if kind == "png")
    for seed in range(8):
        bomb = png_bomb(png, random.Random(seed))
        width, height = struct.unpack(">II", bomb[16:24])  # IHDR (Pillow refuses the biggest)
        assert len(bomb) < 2**20 and width * height >= 16_000_000


def test_the_worker_reports_outcomes_and_is_replaced_after_a_crash_or_a_hang(
    tmp_path: Path,
) -> None:
    worker = _Worker(memory_mb=1024)
    try:
        good = tmp_path / "good.upload"
        good.write_bytes((SAMPLE_IMAGES / "cxr_01.jpg").read_bytes())
        bad = tmp_path / "bad.file"
        bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
        assert worker.decode(good, 30)["outcome"] == DECODED
        assert worker.decode(bad, 30)["outcome"] == TYPED
        # a file that never ends: opening a FIFO nobody writes to blocks the decoder
        fifo = tmp_path / "fifo.file"
        os.mkfifo(fifo)
        assert worker.decode(fifo, 1)["outcome"] == HANG
        assert worker.process is None
        assert worker.decode(good, 30)["outcome"] == DECODED  # a fresh child
        assert worker.process is not None
        os.kill(worker.process.pid, signal.SIGSEGV)
        worker.process.wait()
        assert worker.decode(good, 30)["outcome"] == CRASH
        assert worker.decode(good, 30)["outcome"] == DECODED
    finally:
        worker.close()


@pytest.mark.slow
def test_a_few_hundred_hostile_files_only_raise_the_typed_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["bench", "fuzz", "--n", "300", "--seed", "0", "--source", str(SAMPLE_IMAGES)]
        # the bound catches a decoder that never returns; a loaded machine may be slow
        + ["--time-limit", "60", "--keep", str(tmp_path / "failing"), "--json"],
        catch_exceptions=False,
    )
    figures = json.loads(result.stdout)
    assert result.exit_code == 0, figures["failing"]
    assert figures["files"] == 300
    assert figures["crashes"] == figures["hangs"] == figures["untyped_errors"] == 0
    assert figures["decoded"] + figures["typed_errors"] == 300
    assert figures["typed_errors"] > 100  # most hostile files are refused
    assert set(figures["by_mutation"]) == {
        m.__name__ for mutations in MUTATIONS.values() for m in mutations
    }
    assert not (tmp_path / "failing").exists()
