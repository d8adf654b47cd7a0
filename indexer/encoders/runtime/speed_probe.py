"""How fast this machine multiplies matrices right now, and what torch sees of it.

A shared machine runs the same code at different speeds from one hour to the next; a probe
taken next to each measurement tells a slower machine apart from slower code. The probe is one
matrix product of ViT-B/16's size, timed in a child process (see :func:`speed_probe_gflops`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import torch

from .device import cpu_has_fast_bf16

#: rows, inner and outer size of the probe's product: one MLP matrix of ViT-B/16 at 4 images,
#: [4 x 197 tokens, 768] @ [768, 3072]
PROBE_SHAPE = (4 * 197, 768, 3072)


def probe_dtype() -> str:
    """The torch dtype name the speed probe uses by default: bf16 on CPUs with bf16 units."""
    return "bfloat16" if cpu_has_fast_bf16() else "float32"


def speed_probe_gflops(seconds: float = 0.5, dtype: str | None = None) -> float:
    """Best rate of the probe's matrix product on the CPU over ``seconds``, in GFLOP/s.

    ``dtype`` is a torch dtype name (default: :func:`probe_dtype`). It runs in a child process:
    a torch call on this process's main thread would give OpenMP a second thread team and slow
    every later model call on the encoder's own thread.
    """
    dtype = dtype or probe_dtype()
    code = (
        "from indexer.encoders.runtime.speed_probe import matmul_gflops; "
        f"print(matmul_gflops({seconds!r}, {dtype!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return float(done.stdout.strip().splitlines()[-1])


def matmul_gflops(seconds: float, dtype_name: str) -> float:
    """The probe in this process: best time of the product over ``seconds``, as GFLOP/s."""
    dtype = getattr(torch, dtype_name)
    rows, inner, outer = PROBE_SHAPE
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(rows, inner, generator=generator).to(dtype)
    b = torch.randn(inner, outer, generator=generator).to(dtype)
    flop = 2 * rows * inner * outer
    best = float("inf")
    deadline = time.perf_counter() + seconds
    with torch.inference_mode():
        torch.mm(a, b)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - started)
    return round(flop / best / 1e9, 1)


def torch_facts() -> dict[str, Any]:
    """What torch sees: its CPU threads, whether the CPU has bf16 units, whether CUDA is there."""
    return {
        "torch_threads": torch.get_num_threads(),
        "cpu_bf16": cpu_has_fast_bf16(),
        "cuda": torch.cuda.is_available(),
    }
