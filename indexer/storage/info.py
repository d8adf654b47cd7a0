"""The typed record of ``index_info.json``: what an index folder says about itself.

:class:`IndexInfo` is the one place that knows the file's fields, their types and the defaults
for fields an older file may lack. :meth:`IndexInfo.from_json` checks every field and raises
:class:`~indexer.errors.IndexCorruptError` for a missing or ill-typed one; :meth:`IndexInfo.to_json`
writes the same keys and values the file holds. Records are frozen: a new version of the info is
made with :func:`dataclasses.replace`.

``format_version`` is checked first: a newer format is refused (the message names the MedSearch
version that wrote it, ``written_by``), one older than :data:`MIN_FORMAT_VERSION` is refused with
the command that rebuilds it. Format 1 lacks the checksums of format 2 and is still read; the next
publication records them (:mod:`indexer.storage.publish`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import IndexCorruptError, IndexFormatError
from ..records import EncoderRecord
from ..typed_json import checked_value as _checked
from ..typed_json import read_record as _read
from ..typed_json import write_record as _write

INFO_FILE = "index_info.json"
#: the layout this MedSearch writes; 2 added checksums and written_by, 3 the ANN index's recent
#: part (``index-recent.faiss``), which a reader of 2 would leave out, 4 the block digests'
#: recent part (``vector_blocks-recent.bin``), without which a reader of 3 would refuse the rows
FORMAT_VERSION = 4
#: the oldest layout it still reads (and brings up to date on the next publication)
MIN_FORMAT_VERSION = 1
#: how ``created_at`` and ``updated_at`` are written: ISO 8601, UTC, to the second
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class IndexInfo:
    """All that ``index_info.json`` records; older files may leave out the fields with a default."""

    #: the encoder whose vectors the index holds
    encoder: EncoderRecord
    #: length of the stored vectors (the ANN index and ``vectors.f16`` have this dimension)
    dim: int
    #: grows with every publication; a running service reloads when it changes
    generation: int
    #: version of the folder's layout
    format_version: int = FORMAT_VERSION
    #: similarity the ANN index ranks by
    metric: str = "inner_product"
    #: kind of the published ANN index: flat, ivf, hnsw, ivfsq or ivfpq
    index_type: str = "flat"
    #: kind asked for when indexing ("auto" lets the corpus size and memory budget decide)
    index_type_requested: str = "auto"
    #: search-time knob of the ANN index (nprobe of the IVF types, efSearch of hnsw; 0: flat)
    search_param: int = 0
    #: candidates re-ranked exactly per wanted result (ivfsq, ivfpq; absent for other types)
    rerank_factor: int | None = None
    #: images the IVF clustering was trained on; absent until the first publication
    trained_count: int | None = None
    #: images in the published index
    count: int = 0
    #: files that could not be indexed
    failed: int = 0
    #: absolute corpus folder; indexed paths are relative to it
    corpus_root: str | None = None
    #: when the index was created and last published (UTC, ISO 8601)
    created_at: str | None = None
    updated_at: str | None = None
    #: versions of Python and the libraries that last published the index
    versions: Mapping[str, str] = field(default_factory=dict)
    #: MedSearch version that last wrote the file (absent before format 2)
    written_by: str | None = None
    #: ``"sha256:<hex>"`` of the published files by name (index.faiss; vectors.f16 up to
    #: ``vector_rows`` rows); empty before format 2 and before the first publication
    checksums: Mapping[str, str] = field(default_factory=dict)
    #: rows of vectors.f16 its checksum covers (the highest published id)
    vector_rows: int | None = None
    #: metadata fields whose groups (series, study, case ...) have vectors of their own, in
    #: the folder's ``groups/`` (:mod:`indexer.storage.group_files`); absent: none
    group_fields: tuple[str, ...] | None = None
    #: how close the model that indexed was to its fp32 PyTorch model, for a reduced-precision
    #: runtime (int8 on onnx): runtime, precision, mean_cosine, min_cosine, top10_overlap,
    #: calibration (:mod:`indexer.encoders.onnx.fidelity`); absent for torch
    fidelity: Mapping[str, str] | None = None

    @classmethod
    def from_json(cls, data: object, source: str = INFO_FILE) -> IndexInfo:
        """The info in ``data`` (the parsed file); ``source`` names the file in error messages.

        A file without ``format_version`` is of format 1, which did not write it.
        """
        if isinstance(data, dict):
            data = {"format_version": 1, **data}
            _check_format(data, source)
        return _read(cls, data, source, "")

    def to_json(self) -> dict[str, Any]:
        """The file's content; fields without a value (``None``) are left out, as before."""
        return _write(self)

    def corpus_path(self) -> Path:
        """The corpus folder the indexed paths are relative to."""
        if self.corpus_root is None:
            raise IndexCorruptError(
                f"{INFO_FILE} records no corpus_root: the indexed files cannot be located"
            )
        return Path(self.corpus_root)


def _check_format(data: dict[str, Any], source: str) -> None:
    """Refuse a layout this version cannot read, saying what can."""
    version = _checked(data["format_version"], int, source, "format_version")
    if version > FORMAT_VERSION:
        writer = data.get("written_by")
        by = f"MedSearch {writer}" if isinstance(writer, str) else "a newer MedSearch"
        raise IndexFormatError(
            f"{source} has format {version}, written by {by}; this MedSearch reads formats "
            f"{MIN_FORMAT_VERSION} to {FORMAT_VERSION}: open it with {by} or later"
        )
    if version < MIN_FORMAT_VERSION:
        corpus = data.get("corpus_root")
        corpus = corpus if isinstance(corpus, str) else "CORPUS"
        raise IndexFormatError(
            f"{source} has format {version}, older than this MedSearch reads "
            f"({MIN_FORMAT_VERSION} to {FORMAT_VERSION}); rebuild it into a new folder: "
            f"medsearch index {corpus} --index NEW_INDEX_FOLDER"
        )


def utc_timestamp() -> str:
    """The current time as the info's timestamps write it (:data:`TIMESTAMP_FORMAT`)."""
    return time.strftime(TIMESTAMP_FORMAT, time.gmtime())
