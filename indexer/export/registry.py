"""The export formats by name: a new format is a module declaring ``FORMAT`` and its entry here."""

from __future__ import annotations

from ..errors import InvalidRequestError
from . import clip_retrieval, jsonl, parquet
from .base import ExportFormat

#: every format ``medsearch export --format`` takes, the default first
FORMATS: dict[str, ExportFormat] = {
    f.name: f for f in (clip_retrieval.FORMAT, parquet.FORMAT, jsonl.FORMAT)
}
DEFAULT_FORMAT = clip_retrieval.FORMAT.name


def export_format(name: str) -> ExportFormat:
    """The format called ``name``."""
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidRequestError(
            f"unknown export format {name!r}; formats: {', '.join(FORMATS)}"
        ) from None
