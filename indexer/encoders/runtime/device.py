"""Choosing the device and numeric precision a model runs with, and how a batch goes through it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import torch

from ...errors import InvalidRequestError

T = TypeVar("T")


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise InvalidRequestError(f"unknown device {device!r}: use auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidRequestError("--device cuda was asked for, but no CUDA device is available")
    return torch.device(device)


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AMX or AVX512-BF16)."""
    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto``: bf16 on GPUs that support it and on CPUs with bf16 units, else fp16/fp32."""
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise InvalidRequestError(f"unknown precision {precision!r}: use auto, fp32, bf16 or fp16")
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise InvalidRequestError("fp16 is for GPUs; on a CPU use bf16 or fp32")
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def model_dtype(precision: str) -> torch.dtype:
    """The dtype a model's weights and activations are held in at ``precision``."""
    return _DTYPES[precision]


#: Images per forward of an image tower on a CPU. A ViT layer's attention scores and MLP
#: activations for 8 images stay in the CPU's caches; for 32 they do not, and the softmax, GELU
#: and attention products then wait on memory. On a 2-core CPU in bf16, ViT-B/16 takes less time
#: per image in slices of 8 than as one batch of 32, for the tower alone and through the encoder
#: (figures in docs/benchmarks.md, fifth round).
CPU_IMAGES_PER_FORWARD = 8


def forward_in_slices(
    tower: Callable[[torch.Tensor], torch.Tensor], pixels: torch.Tensor
) -> torch.Tensor:
    """``tower(pixels)``, run on a CPU in slices of :data:`CPU_IMAGES_PER_FORWARD` images.

    Every image goes through the same operations either way; a GPU takes the batch whole.
    """
    if pixels.device.type != "cpu" or len(pixels) <= CPU_IMAGES_PER_FORWARD:
        return tower(pixels)
    return torch.cat([tower(part) for part in pixels.split(CPU_IMAGES_PER_FORWARD)])


class ModelThread:
    """One thread that does all of a model's torch work, its load included.

    The CPU thread pools stay warm for that one thread, where calls from many request threads
    would each wake pools of their own.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medsearch-model")
        self._ident = self._executor.submit(threading.get_ident).result()
        self._busy_seconds = 0.0

    @property
    def busy_seconds(self) -> float:
        """Seconds the thread has spent running work since it started."""
        return self._busy_seconds

    def _timed(self, func: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        try:
            return func(*args)
        finally:
            # only the model's own thread writes this
            self._busy_seconds += time.perf_counter() - started

    def is_current(self) -> bool:
        """True when called on the model's thread itself."""
        return threading.get_ident() == self._ident

    def submit(self, func: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``func(*args)`` for the model's thread, behind the work queued before it."""
        return self._executor.submit(self._timed, func, *args)

    def run(self, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)`` on the model's thread (directly when already on it)."""
        if self.is_current():
            return func(*args)
        return self.submit(func, *args).result()


def unit_rows(features: torch.Tensor) -> np.ndarray:
    """Features [n, dim] as float32 rows of length one."""
    array = features.float().cpu().numpy()
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return (array / np.maximum(norms, 1e-12)).astype(np.float32)
