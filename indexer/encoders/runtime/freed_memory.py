"""Handing memory a process has let go of back to the operating system.

Freeing a model's tensors returns their memory to the C allocator, which may keep much of it in
its heap; the process's resident size only falls once the allocator trims that heap. glibc does so
on ``malloc_trim``; elsewhere this only collects Python's garbage.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable
from functools import cache


def return_freed_memory() -> None:
    """Collect unreachable Python objects, then give the allocator's free memory back."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    trim: Callable[[int], int] | None = getattr(ctypes.CDLL(name), "malloc_trim", None)
    return trim
