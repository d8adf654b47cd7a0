"""Sizes: memory as people write it (``512M``, ``4G``), the machine's RAM, and the largest image
MedSearch decodes."""

from __future__ import annotations

import os
import re

from .errors import SettingsError

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)
#: share of physical memory the ANN index may take unless told otherwise: the rest is for the
#: model, the page cache of the mapped vector file and the metadata database
DEFAULT_INDEX_MEMORY_SHARE = 8
#: pixels (width x height) an image may have unless the settings say otherwise: the count at
#: which Pillow itself refuses to open an image as a decompression bomb
DEFAULT_MAX_PIXELS = 178_956_970


def parse_size(text: str) -> int:
    """Bytes in ``text``: a number with an optional binary unit K, M, G or T (``512M``, ``4G``,
    ``1.5GiB``); raises :class:`~indexer.errors.SettingsError` when it is not a size."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise SettingsError(f"{text!r} is not a size such as 512M or 4G")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.upper()])


def format_size(size: int) -> str:
    """``size`` bytes in the largest binary unit that keeps one decimal meaningful."""
    for unit in ("T", "G", "M", "K"):
        if size >= _UNITS[unit]:
            return f"{size / _UNITS[unit]:.1f}{unit}".replace(".0", "")
    return f"{size}B"


def physical_memory() -> int:
    """Bytes of RAM the machine has."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def default_index_memory() -> int:
    """The ANN index's default memory budget: an eighth of physical memory."""
    return physical_memory() // DEFAULT_INDEX_MEMORY_SHARE
