"""An image tower compiled with ``torch.compile`` for bulk indexing.

Inductor fuses the elementwise work between the matrix products and, with ``freezing``, packs the
weights once for the CPU's matrix kernels. Batched bf16 forwards of ViT-B/16 measured faster on
a 2-core CPU than the eager model did before its weights were packed at load time
(:mod:`.packed_linear`). Against the packed eager model, both run in slices of 8 images, it is
now slightly slower there; other hardware may differ (figures in docs/benchmarks.md, third and
fifth rounds). Compiling one batch shape is slow, so batches are padded up to a shape already
compiled rather than compiling the short last batch of a run again.
"""

from __future__ import annotations

import bisect
import os
import shutil
from typing import Any

import torch

from ...errors import ModelUnavailableError

#: C++ compilers inductor looks for when ``CXX`` is not set
_CXX_CANDIDATES = ("g++", "clang++")


def find_cxx_compiler() -> str | None:
    """The C++ compiler inductor will use for CPU kernels, or None when there is none."""
    configured = os.environ.get("CXX")
    if configured:
        return shutil.which(configured)
    return next(filter(None, map(shutil.which, _CXX_CANDIDATES)), None)


class CompiledTower:
    """Calls ``tower`` through ``torch.compile``, every batch at an already compiled size."""

    def __init__(self, tower: torch.nn.Module, device: torch.device) -> None:
        if device.type == "cpu" and find_cxx_compiler() is None:
            raise ModelUnavailableError(
                "compiling the model needs a C++ compiler for its CPU kernels (g++ or clang++, "
                "or set CXX); install one or index without --compile"
            )
        self._compiled: Any = torch.compile(tower, dynamic=False, options={"freezing": True})
        self._sizes: list[int] = []  # compiled batch sizes, ascending

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        count = len(pixels)
        size = next((s for s in self._sizes if s >= count), count)
        if size not in self._sizes:
            bisect.insort(self._sizes, size)  # kept sorted: the first fit is the smallest
        if size > count:
            padding = pixels.new_zeros((size - count, *pixels.shape[1:]))
            pixels = torch.cat([pixels, padding])
        features: torch.Tensor = self._compiled(pixels)
        return features[:count]
