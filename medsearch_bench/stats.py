"""Small measuring helpers: percentiles, memory readings, facts about the machine.

The machine's speed right now comes from
:func:`indexer.encoders.runtime.speed_probe.speed_probe_gflops`.
"""

from __future__ import annotations

import os
import platform
import resource
from collections.abc import Sequence
from contextlib import suppress
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from indexer.encoders.runtime.speed_probe import torch_facts


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
    """Current (``rss_mb``) and peak (``peak_rss_mb``) resident memory of a process, in MiB, and
    the current split into anonymous memory (``rss_anon_mb``: the process's own) and pages of
    mapped files (``rss_file_mb``: page cache the kernel can drop and read again).

    Read from ``/proc/PID/status``; empty when that is not available (not Linux, process gone).
    """
    fields = {
        "VmRSS": "rss_mb",
        "VmHWM": "peak_rss_mb",
        "RssAnon": "rss_anon_mb",
        "RssFile": "rss_file_mb",
    }
    found: dict[str, float] = {}
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in fields:
                found[fields[key]] = round(int(rest.split()[0]) / 1024, 1)
    return found


def machine_facts() -> dict[str, Any]:
    """CPU model, cores, memory, bf16 support and library versions."""
    from_torch = torch_facts()
    facts: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": from_torch["torch_threads"],
        "memory_gb": _memory_gb(),
        "cpu_bf16": from_torch["cpu_bf16"],
        "cuda": from_torch["cuda"],
        "python": platform.python_version(),
    }
    for dist in ("torch", "faiss-cpu", "open_clip_torch", "numpy", "pillow", "pydicom"):
        with suppress(metadata.PackageNotFoundError):
            facts[dist] = metadata.version(dist)
    return facts


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
