"""Writing an index file atomically and reading one back, checked against its checksum."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..errors import IndexCorruptError
from ..storage import checksums
from ..storage.atomic import reporting_disk_full, write_atomic
from .base import AnnIndex, VectorTable, faiss
from .registry import family_of


def save(ann: AnnIndex, path: Path) -> str:
    """Write the index (its main part) beside ``path`` and move it into place in one durable,
    atomic step.

    Returns the checksum of the bytes written. They go through Python file writes, so a full
    disk raises :class:`~indexer.errors.DiskFullError` instead of leaving a cut file behind.
    """
    return _write(ann.index, path)


def save_recent(ann: AnnIndex, path: Path) -> str:
    """Write the index's recent part as :func:`save` writes its main part."""
    if ann.recent is None:
        raise ValueError("the index has no recent part")
    return _write(ann.recent, path)


def _write(index: object, path: Path) -> str:
    digest = hashlib.sha256()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:

            def sink(chunk: bytes) -> int:
                digest.update(chunk)
                return handle.write(chunk)

            faiss.write_index(index, faiss.PyCallbackIOWriter(sink))

    with reporting_disk_full(path.name):
        write_atomic(path, write, durable=True)
    return f"{checksums.ALGORITHM}:{digest.hexdigest()}"


def load(
    path: Path,
    search_param: int,
    checksum: str | None = None,
    *,
    rerank_factor: int = 0,
    table: VectorTable | None = None,
) -> AnnIndex:
    """Read an index; its type comes from the file itself, not from what the info says.

    With ``checksum``, the file is hashed before it is parsed, through the same open file (so a
    newer file renamed into place meanwhile cannot slip in), and a mismatch raises
    :class:`~indexer.errors.IndexCorruptError`. ``table`` is the vector file a re-ranking type
    scores its candidates against.
    """
    return with_knobs(_read(path, checksum), path.name, search_param, rerank_factor, table)


def with_knobs(
    index: Any,
    name: str,
    search_param: int,
    rerank_factor: int = 0,
    table: VectorTable | None = None,
) -> AnnIndex:
    """The FAISS ``index`` (read from the file ``name``) with its search knobs."""
    family = family_of(index)
    if family.reranks and rerank_factor < 1:
        raise IndexCorruptError(
            f"{name} is a {family.name} index, but no rerank_factor is recorded for it: "
            "run `medsearch index` to rebuild it"
        )
    return AnnIndex(index, family, search_param, rerank_factor, table)


def load_recent(ann: AnnIndex, path: Path, checksum: str | None = None) -> None:
    """Read ``ann``'s recent part from ``path`` (checked as :func:`load` checks)."""
    recent = _read(path, checksum)
    if family_of(recent) is not ann.family or recent.d != ann.index.d:
        raise IndexCorruptError(
            f"{path.name} is not a recent part of the {ann.kind} index: run `medsearch index` "
            "to rebuild it"
        )
    ann.recent = recent


def _read(path: Path, checksum: str | None) -> Any:
    try:
        with open(path, "rb") as handle:
            if checksum is not None and checksums.file_checksum(handle) != checksum:
                raise IndexCorruptError(
                    checksums.mismatch_message(path.name, "run `medsearch index` to rebuild it")
                )
            handle.seek(0)
            return faiss.read_index(faiss.PyCallbackIOReader(handle.read))
    except (RuntimeError, OSError) as exc:
        raise IndexCorruptError(f"cannot read {path}: {exc}") from exc
