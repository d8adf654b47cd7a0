"""Small measuring helpers: percentiles, memory readings, facts about the machine."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import suppress
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np


def summarize_ms(samples_ms: Sequence[float]) -> dict[str, float | int]:
    """Count, mean, p50, p95, p99 and max of latencies in milliseconds (rounded to 0.01)."""
    if not samples_ms:
        return {"n": 0, "mean_ms": 0.0, "p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    values = np.asarray(samples_ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "n": int(values.size),
        "mean_ms": round(float(values.mean()), 2),
        "p50_ms": round(float(p50), 2),
        "p95_ms": round(float(p95), 2),
        "p99_ms": round(float(p99), 2),
        "max_ms": round(float(values.max()), 2),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss``)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return round(kib / 1024, 1)


def process_memory_mb(pid: int) -> dict[str, float]:
    """Current (``rss_mb``) and peak (``peak_rss_mb``) resident memory of a process, in MiB.

    Read from ``/proc/PID/status``; empty when that is not available (not Linux, process gone).
    """
    fields = {"VmRSS": "rss_mb", "VmHWM": "peak_rss_mb"}
    found: dict[str, float] = {}
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in fields:
                found[fields[key]] = round(int(rest.split()[0]) / 1024, 1)
    return found


def machine_facts() -> dict[str, Any]:
    """CPU model, cores, memory, bf16 support and library versions."""
    import torch

    from ..encoders.runtime import cpu_has_fast_bf16

    facts: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gb": _memory_gb(),
        "cpu_bf16": cpu_has_fast_bf16(),
        "cuda": torch.cuda.is_available(),
        "python": platform.python_version(),
    }
    for dist in ("torch", "faiss-cpu", "open_clip_torch", "numpy", "pillow", "pydicom"):
        with suppress(metadata.PackageNotFoundError):
            facts[dist] = metadata.version(dist)
    return facts


def probe_dtype() -> str:
    """The torch dtype name the speed probe uses by default: bf16 on CPUs with bf16 units."""
    from ..encoders.runtime import cpu_has_fast_bf16

    return "bfloat16" if cpu_has_fast_bf16() else "float32"


def speed_probe_gflops(seconds: float = 0.5, dtype: str | None = None) -> float:
    """Best rate of a ViT-sized matrix product on the CPU, in GFLOP/s.

    ``dtype`` is a torch dtype name (default: :func:`probe_dtype`).
    On a shared machine the same benchmark can run 1.5x slower an hour later; a probe taken
    next to each measurement tells a slower machine apart from slower code. It runs in a child
    process: a torch call on this process's main thread would give OpenMP a second thread team
    and slow every later model call on the encoder's own thread.
    """
    dtype = dtype or probe_dtype()
    code = (
        "from indexer.bench.stats import _matmul_gflops; "
        f"print(_matmul_gflops({seconds!r}, {dtype!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return float(done.stdout.strip().splitlines()[-1])


def _matmul_gflops(seconds: float, dtype_name: str) -> float:
    import torch

    dtype = getattr(torch, dtype_name)
    generator = torch.Generator().manual_seed(0)
    # one MLP matrix of ViT-B/16 at 4 images: [4 x 197 tokens, 768] @ [768, 3072]
    a = torch.randn(788, 768, generator=generator).to(dtype)
    b = torch.randn(768, 3072, generator=generator).to(dtype)
    flop = 2 * 788 * 768 * 3072
    best = float("inf")
    deadline = time.perf_counter() + seconds
    with torch.inference_mode():
        torch.mm(a, b)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - started)
    return round(flop / best / 1e9, 1)


def _cpu_model() -> str:
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    with suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None
