"""clip-retrieval's embedding folder: ``img_emb/img_emb_N.npy`` and ``metadata/metadata_N.parquet``.

The layout ``clip-retrieval inference`` writes and its other tools, embedding-reader and
autofaiss read: part ``N`` of the vectors is a float16 ``.npy`` array (clip-retrieval stores
float16; MedSearch does too, so the bytes are the stored ones), and row ``i`` of
``metadata_N.parquet`` describes row ``i`` of ``img_emb_N.npy``. Parts hold ``part_rows``
images (clip-retrieval's default is one million), and are numbered from 0 with the same number
of digits each, as clip-retrieval numbers them, so that sorting the names sorts the parts.

Each ``.npy`` header is written first with its final row count (known before the first block),
then the rows are appended block by block: no part is ever held in memory.
"""

from __future__ import annotations

import math
from typing import IO, TYPE_CHECKING

from .base import ExportBlock, ExportFormat, ExportTarget

if TYPE_CHECKING:
    import pyarrow.parquet as pq

EMBEDDINGS_FOLDER, METADATA_FOLDER = "img_emb", "metadata"
#: images in one part unless told otherwise (clip-retrieval's own default)
PART_ROWS = 1_000_000
#: the vectors' type in the ``.npy`` files: little-endian float16, as stored and as
#: clip-retrieval writes them
STORED = "<f2"


def part_names(total: int, part_rows: int) -> list[str]:
    """The numbers of the parts of ``total`` images, with ``int(log10(parts)) + 1`` digits as
    clip-retrieval writes them (9 parts: ``0`` to ``8``; 10 parts: ``00`` to ``09``)."""
    parts = math.ceil(total / part_rows)
    if parts == 0:
        return []
    digits = int(math.log10(parts)) + 1
    return [str(n).zfill(digits) for n in range(parts)]


class ClipRetrievalWriter:
    """Writes the parts of an embedding folder in order, switching part every ``part_rows``."""

    def __init__(self, target: ExportTarget) -> None:
        from . import arrow  # pyarrow loads when an export starts, not with the command line

        self._arrow = arrow
        self.target = target
        self._schema = arrow.schema(target, with_embedding=False)
        self._parts = iter(part_names(target.total, target.part_rows))
        self._vectors: IO[bytes] | None = None
        self._metadata: pq.ParquetWriter | None = None
        self._room = 0  # images the open part still takes
        self._written = 0
        for folder in (EMBEDDINGS_FOLDER, METADATA_FOLDER):
            (target.path / folder).mkdir(parents=True)

    def __enter__(self) -> ClipRetrievalWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._close_part()

    def write(self, block: ExportBlock) -> None:
        start = 0
        while start < len(block):
            if self._room == 0:
                self._open_next_part()
            part = block.slice(start, start + min(self._room, len(block) - start))
            assert self._vectors is not None and self._metadata is not None
            self._vectors.write(part.vectors.astype(STORED, copy=False).tobytes())
            self._metadata.write_table(self._arrow.table(part, self.target.columns, self._schema))
            self._room -= len(part)
            start += len(part)

    def _open_next_part(self) -> None:
        self._close_part()
        name = next(self._parts)  # the run never gives more images than its total
        rows = min(self.target.part_rows, self.target.total - self._written)
        path = self.target.path / EMBEDDINGS_FOLDER / f"img_emb_{name}.npy"
        self._vectors = open(path, "wb")  # closed by _close_part
        _write_npy_header(self._vectors, rows, self.target.dim)
        metadata_path = self.target.path / METADATA_FOLDER / f"metadata_{name}.parquet"
        self._metadata = self._arrow.parquet_writer(metadata_path, self._schema)
        self._room = rows
        self._written += rows

    def _close_part(self) -> None:
        if self._vectors is not None:
            self._vectors.close()
            self._vectors = None
        if self._metadata is not None:
            self._metadata.close()
            self._metadata = None


def _write_npy_header(handle: IO[bytes], rows: int, dim: int) -> None:
    """The header of a ``.npy`` file of ``rows`` x ``dim`` :data:`STORED` values, which follow."""
    from numpy.lib import format as npy

    npy.write_array_header_1_0(
        handle, {"descr": STORED, "fortran_order": False, "shape": (rows, dim)}
    )


FORMAT = ExportFormat(
    name="clip-retrieval",
    description="clip-retrieval's embedding folder: img_emb/img_emb_N.npy (float16) and "
    "metadata/metadata_N.parquet, in parts of --part-rows images",
    writes_folder=True,
    open=ClipRetrievalWriter,
)
