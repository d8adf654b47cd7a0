"""Decoder fuzzer: thousands of hostile variants of the sample files, each decoded under bounds.

Case ``n`` of seed ``s`` takes a sample file and a mutation (:mod:`medsearch_bench.fuzz_mutations`)
from a :class:`random.Random` seeded with ``"s-n"``, so any case can be made again alone. Each
mutated file is decoded, as an upload or as an indexed file in turns, by a child process
(:mod:`medsearch_bench.fuzz_worker`) whose address space is capped; the parent gives it
``time_limit_s`` per file. A child that dies is a crash, one that does not answer in time a hang
(it is killed); both are replaced by a fresh child, so the run goes on. The target: every file
decoded or refused with the typed :class:`~indexer.errors.UnreadableImageError`, none crashing,
hanging or raising anything else.
"""

from __future__ import annotations

import json
import queue
import random
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from indexer.errors import InvalidRequestError
from indexer.imaging.decode import sniff_file

from . import LogFn, no_log
from .fuzz_mutations import MUTATIONS, Mutation
from .fuzz_worker import DECODED, TYPED, UNTYPED, UPLOAD_SUFFIX
from .samples import sample_images

CRASH, HANG = "crash", "hang"
#: failing cases described in the figures (all are counted)
MAX_EXAMPLES = 20
#: raster sample formats that TIFF cases are made from
_TIFF_SOURCES = ("jpeg", "png")


def run_fuzz(
    *,
    n: int,
    seed: int = 0,
    source: Path | None = None,
    workers: int = 2,
    time_limit_s: float = 10.0,
    memory_mb: int = 2048,
    keep: Path | None = None,
    log: LogFn = no_log,
) -> dict[str, Any]:
    """Decode ``n`` mutated files; counts per outcome and per mutation, failing cases first.

    ``keep``: a folder the files of failing cases are copied to (named after their case).
    """
    if n < 1 or workers < 1 or time_limit_s <= 0 or memory_mb < 64:
        raise InvalidRequestError("n and workers must be at least 1, the bounds positive")
    samples = _samples(sample_images(source, option="--source"))
    cases: queue.Queue[int] = queue.Queue()
    for number in range(n):
        cases.put(number)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="medsearch-fuzz-") as tmp:

        def work(worker_number: int) -> None:
            worker = _Worker(memory_mb)
            try:
                while True:
                    try:
                        number = cases.get_nowait()
                    except queue.Empty:
                        return
                    case = make_case(samples, seed, number)
                    # even cases are decoded as uploads are, odd ones as indexed files
                    suffix = UPLOAD_SUFFIX if number % 2 == 0 else ".file"
                    path = Path(tmp) / f"w{worker_number}-case-{number}{suffix}"
                    path.write_bytes(case.pop("data"))
                    case.update(worker.decode(path, time_limit_s))
                    if case["outcome"] not in (DECODED, TYPED) and keep is not None:
                        keep.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(path, keep / f"seed{seed}-case{number}-{case['mutation']}")
                    path.unlink()
                    with lock:
                        results.append(case)
                        if len(results) % 500 == 0:
                            log(f"{len(results)} / {n} files")
            finally:
                worker.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return _figures(results, seed, workers, time_limit_s, memory_mb, time.perf_counter() - started)


def make_case(samples: list[tuple[str, str, bytes]], seed: int, number: int) -> dict[str, Any]:
    """Case ``number`` of ``seed``: its source, kind, mutation and mutated bytes (``data``)."""
    rng = random.Random(f"{seed}-{number}")
    name, kind, data = rng.choice(samples)
    if kind in _TIFF_SOURCES and rng.random() < 0.1:
        kind = "tiff"
    mutation: Mutation = rng.choice(MUTATIONS[kind])
    return {
        "case": number,
        "source": name,
        "mutation": mutation.__name__,
        "data": mutation(data, rng),
    }


def _samples(folder: Path) -> list[tuple[str, str, bytes]]:
    found = []
    for path in sorted(folder.iterdir()):
        kind = sniff_file(path) if path.is_file() else None
        if kind in MUTATIONS:
            found.append((path.name, kind, path.read_bytes()))
    if not found:
        raise InvalidRequestError(f"no PNG, JPEG or DICOM sample in {folder} to mutate")
    return found


class _Worker:
    """One child decoding files one at a time; replaced after it crashes or hangs."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.process: subprocess.Popen[str] | None = None

    def decode(self, path: Path, time_limit_s: float) -> dict[str, Any]:
        process = self._started()
        assert process.stdin is not None and process.stdout is not None
        started = time.perf_counter()
        try:
            process.stdin.write(f"{path}\n")
            process.stdin.flush()
        except BrokenPipeError:
            return self._lost(CRASH, started)
        ready, _, _ = select.select([process.stdout], [], [], time_limit_s)
        if not ready:
            return self._lost(HANG, started)
        line = process.stdout.readline()
        if not line:
            return self._lost(CRASH, started)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> int | None:
        """Kill the child (if any) and close its pipes; its exit status."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        process.kill()
        code = process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass  # the child is gone: nothing left to flush
        return code

    def _started(self) -> subprocess.Popen[str]:
        if self.process is None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "medsearch_bench.fuzz_worker", str(self.memory_mb)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # decoder libraries' own complaints
                text=True,
            )
        return self.process

    def _lost(self, outcome: str, started: float) -> dict[str, Any]:
        code = self.close()
        return {
            "outcome": outcome,
            "error": f"exit status {code}",
            "seconds": round(time.perf_counter() - started, 4),
        }


def _figures(
    results: list[dict[str, Any]],
    seed: int,
    workers: int,
    time_limit_s: float,
    memory_mb: int,
    seconds: float,
) -> dict[str, Any]:
    outcomes = Counter(r["outcome"] for r in results)
    failing = sorted(
        (r for r in results if r["outcome"] not in (DECODED, TYPED)), key=lambda r: r["case"]
    )
    by_mutation: dict[str, Counter[str]] = {}
    for result in results:
        by_mutation.setdefault(result["mutation"], Counter())[result["outcome"]] += 1
    return {
        "files": len(results),
        "seed": seed,
        "decoded": outcomes[DECODED],
        "typed_errors": outcomes[TYPED],
        "untyped_errors": outcomes[UNTYPED],
        "crashes": outcomes[CRASH],
        "hangs": outcomes[HANG],
        "reasons": dict(Counter(r.get("reason", "") for r in results if r["outcome"] == TYPED)),
        "by_mutation": {name: dict(counts) for name, counts in sorted(by_mutation.items())},
        "max_seconds": max((r["seconds"] for r in results), default=0.0),
        "worker_peak_rss_mb": max((r.get("peak_rss_mb", 0.0) for r in results), default=0.0),
        "time_limit_s": time_limit_s,
        "memory_limit_mb": memory_mb,
        "workers": workers,
        "seconds": round(seconds, 1),
        "failing": failing[:MAX_EXAMPLES],
        "passed": not failing,
    }
