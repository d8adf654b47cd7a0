"""Export: an index's vectors and metadata in formats other programs read.

:func:`export_index` writes the images of an index, or those a filter selects, as
clip-retrieval's embedding folder, one Parquet file or JSON Lines (:data:`FORMATS`), streaming
them in blocks. What of each image leaves is declared once in :mod:`.columns`; each format is a
module with its ``FORMAT`` and its entry in :mod:`.registry`. The declarations load no array or
database library (the command line reads them); an export loads them when it starts.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .registry import DEFAULT_FORMAT, FORMATS, export_format

if TYPE_CHECKING:
    from .run import ExportReport as ExportReport
    from .run import export_index as export_index

_LAZY = {"ExportReport": ".run", "export_index": ".run"}

__all__ = ["DEFAULT_FORMAT", "FORMATS", "ExportReport", "export_format", "export_index"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
