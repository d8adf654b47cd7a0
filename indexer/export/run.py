"""``medsearch export``: the vectors and metadata of an index, or of a filtered part of it.

The records come from the metadata database in blocks of one read transaction
(:meth:`~indexer.storage.metadata_db.Store.records_in_blocks`), the vectors of each block from
the vector file with plain reads (:meth:`~indexer.storage.vectors.VectorFile.read_stored`), and
the format's writer gets one block at a time: memory stays that of a block, whatever the size of
the index. Filters are read as ``medsearch search`` and the API read them (by the type of each
field's values).

The output is written beside its final name (``.NAME.partial``) and renamed into place when
whole, so an interrupted export leaves nothing that looks finished; an existing output is never
overwritten.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidRequestError, OutputExistsError
from ..storage.atomic import reporting_disk_full
from ..storage.filters import Filters
from ..storage.folder import IndexFolder
from ..storage.info import IndexInfo
from ..versions import medsearch_version
from .base import ExportBlock, ExportTarget
from .clip_retrieval import PART_ROWS
from .columns import ExportColumns
from .registry import DEFAULT_FORMAT, export_format

#: images read and written at a time (16 MiB of 512-d float16 vectors)
BLOCK_ROWS = 16_384

#: called after each block with the images written so far and the total
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    out: Path
    format: str
    count: int
    dim: int
    #: the files written, relative to ``out`` for a folder (``[out.name]`` for a file)
    files: list[str]
    seconds: float
    #: of an empty filtered export, stored values that differ from a text filter value only in
    #: case (as a search's suggestions)
    suggestions: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "format": self.format,
            "count": self.count,
            "dim": self.dim,
            "files": self.files,
            "seconds": round(self.seconds, 3),
            "suggestions": self.suggestions,
        }


def export_index(
    index_dir: Path,
    out: Path,
    format_name: str = DEFAULT_FORMAT,
    filters: Filters | None = None,
    *,
    part_rows: int = PART_ROWS,
    block_rows: int = BLOCK_ROWS,
    progress: Progress | None = None,
) -> ExportReport:
    """Write the images of the index in ``index_dir`` that match ``filters`` (all without any)
    to ``out`` in the format called ``format_name`` (:data:`~indexer.export.registry.FORMATS`).

    Raises :class:`~indexer.errors.OutputExistsError` when ``out`` exists,
    :class:`~indexer.errors.InvalidRequestError` for an unknown format or filter field (and its
    :class:`~indexer.errors.FilterValueError` for a value its field cannot hold), the index
    folder's own errors, and :class:`~indexer.errors.DiskFullError` when the disk fills up.
    """
    export = export_format(format_name)
    if part_rows < 1:
        raise ValueError("part_rows must be at least 1")
    if out.exists() or out.is_symlink():
        raise OutputExistsError(f"{out} exists; export writes a new file or folder only")
    if out.resolve().is_relative_to(Path(index_dir).resolve()):
        # the index folder holds the index's files only (`medsearch index` refuses others)
        raise InvalidRequestError(f"write the export outside the index folder {index_dir}")
    started = time.perf_counter()
    folder = IndexFolder(index_dir)
    info = folder.read_info()
    vectors = folder.vector_file(info.dim)
    with folder.open_store() as store:
        columns = ExportColumns.of(store.field_value_types())
        with store.records_in_blocks(filters, block_rows) as found, _written_aside(out) as path:
            target = ExportTarget(path, found.total, info.dim, columns, part_rows, _about(info))
            with reporting_disk_full(str(out)), export.open(target) as writer:
                done = 0
                for records in found.blocks:
                    writer.write(ExportBlock(records, vectors.read_stored([r.id for r in records])))
                    done += len(records)
                    if progress is not None:
                        progress(done, found.total)
        suggestions = store.case_variants(filters) if filters and found.total == 0 else {}
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return ExportReport(
        out=out,
        format=export.name,
        count=found.total,
        dim=info.dim,
        files=files if out.is_dir() else [out.name],
        seconds=time.perf_counter() - started,
        suggestions=suggestions,
    )


@contextmanager
def _written_aside(out: Path) -> Iterator[Path]:
    """A path beside ``out`` to write to, renamed to ``out`` when the block ends without an
    error and removed when it raises (or was left by an export that was killed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    _remove(partial)
    try:
        yield partial
        partial.replace(out)
    finally:
        _remove(partial)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with suppress(FileNotFoundError):
            path.unlink()


def _about(info: IndexInfo) -> dict[str, Any]:
    """The facts an export records where its format has room: which encoder made the vectors,
    their dimension and stored precision (the model's folder path is left out)."""
    encoder = info.encoder
    return {
        "encoder": {
            "family": encoder.family,
            "name": encoder.name,
            "fingerprint": encoder.fingerprint,
            "random_weights": encoder.random_weights,
        },
        "dim": info.dim,
        "metric": "inner product of unit vectors (cosine)",
        "stored_dtype": "float16",
        "written_by": medsearch_version(),
    }
