"""What every export format is given and how it is driven.

An export format is an :class:`ExportFormat`: a name, a one-line description, whether it writes
a folder or a file, and ``open``, which starts an :class:`ExportWriter` on an
:class:`ExportTarget`. The run (:mod:`indexer.export.run`) hands the writer the images
block by block (:class:`ExportBlock`), then leaves its ``with`` block; a writer holds at most one
block at a time, so an export of any size takes the memory of a block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..records import ImageRecord
from .columns import ExportColumns

if TYPE_CHECKING:  # the declarations load no array library: the command line reads them
    import numpy as np
    import numpy.typing as npt


class ExportBlock(NamedTuple):
    """Consecutive images of an export: their records and their stored float16 vectors."""

    records: Sequence[ImageRecord]
    vectors: npt.NDArray[np.float16]

    def __len__(self) -> int:
        return len(self.records)

    def slice(self, start: int, stop: int) -> ExportBlock:
        return ExportBlock(self.records[start:stop], self.vectors[start:stop])


@dataclass(frozen=True)
class ExportTarget:
    """Where and what a writer writes."""

    #: the file or folder to write (a folder is created by the writer)
    path: Path
    #: images the export holds, known before the first block
    total: int
    #: the vectors' dimension
    dim: int
    columns: ExportColumns
    #: most images in one numbered part, for formats written in parts
    part_rows: int
    #: facts about the index to record where a format has room for them (Parquet's key-value
    #: metadata): encoder, dimension, stored precision
    about: dict[str, Any] = field(default_factory=dict)


class ExportWriter(Protocol):
    """Writes the blocks it is given; leaving its ``with`` block closes what it opened."""

    def __enter__(self) -> ExportWriter: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def write(self, block: ExportBlock) -> None: ...


@dataclass(frozen=True)
class ExportFormat:
    """One way to write an export (an entry of :data:`indexer.export.registry.FORMATS`)."""

    name: str
    description: str
    #: True when the output is a folder, False for one file
    writes_folder: bool
    open: Callable[[ExportTarget], ExportWriter]
