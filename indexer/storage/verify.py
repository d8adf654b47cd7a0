"""Checking an index folder's invariants: every image has exactly one vector and vice versa.

The deep check makes every check of the plain one and also reads every published byte:
``index.faiss``, the published rows of ``vectors.f16`` (whole, and block by block against the
digests a service checks them by), the group vectors' files and the null scores against the
checksums ``index_info.json`` records, and ``meta.sqlite`` with SQLite's own
``PRAGMA integrity_check`` (a database written in place has no fixed checksum).

Also measures recall@10 of the ANN index against exact search (``medsearch info --check-recall``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy.exc

from .. import ann
from ..errors import MedSearchError
from .block_digests import guard_of
from .folder import FAISS_FILE, VECTORS_FILE, IndexFolder
from .group_files import load_groups
from .info import IndexInfo
from .null_scores import load_null_scores

_NORM_TOLERANCE = 0.02  # float16 storage rounds unit vectors a little
#: stored vectors whose norms are checked at a time
_NORM_CHUNK = 65_536


def verify_index(index_dir: Path, *, deep: bool = False) -> list[str]:
    """Every broken invariant, in words; an empty list means the index is consistent.

    ``deep`` also checks every published file's bytes (checksums, SQLite integrity check).
    """
    folder = IndexFolder(index_dir)
    try:
        info = folder.read_info()
    except MedSearchError as exc:
        return [exc.message]
    damaged = _damaged_files(folder, info) if deep else []
    try:
        broken = _broken_invariants(folder, info)
    except sqlalchemy.exc.DatabaseError as exc:
        broken = [f"{folder.db_path.name} cannot be read: {exc.orig}"]
    return damaged + [p for p in broken if p not in damaged]


def _broken_invariants(folder: IndexFolder, info: IndexInfo) -> list[str]:
    """Every broken invariant between the database, the ANN index, the vectors and the info."""
    try:
        store = folder.open_store()
    except MedSearchError as exc:
        return [exc.message]
    problems: list[str] = []
    try:
        db_ids = store.ids()
        if not folder.faiss_path.is_file():
            return [f"{folder.faiss_path.name} is missing (run `medsearch index` again)"]
        try:
            index = ann.load_published(folder, info, checked=False)
        except MedSearchError as exc:
            return [exc.message]
        faiss_ids = index.ids()
        if len(np.unique(faiss_ids)) != len(faiss_ids):
            problems.append("the ANN index holds some ids more than once")
        _compare_sets(problems, "in the database but not in the ANN index", db_ids, faiss_ids)
        _compare_sets(problems, "in the ANN index but not in the database", faiss_ids, db_ids)
        vectors = folder.vector_file(info.dim)
        if len(db_ids) and vectors.rows() < int(db_ids.max()):
            problems.append(
                f"{folder.vectors_path.name} has {vectors.rows()} rows; ids go up to {db_ids.max()}"
            )
        elif len(db_ids):
            rows = vectors.rows_of(db_ids)
            norms = np.concatenate(
                [
                    np.linalg.norm(rows[start : start + _NORM_CHUNK], axis=1)
                    for start in range(0, len(rows), _NORM_CHUNK)
                ]
            )
            bad = db_ids[~np.isfinite(norms) | (np.abs(norms - 1) > _NORM_TOLERANCE)]
            if len(bad):
                problems.append(
                    f"{len(bad)} images have no valid stored vector, e.g. ids {bad[:5].tolist()}"
                )
        if info.count != len(db_ids):
            problems.append(
                f"{folder.info_path.name} says count={info.count}, the database has "
                f"{len(db_ids)} images"
            )
        if index.index.d != info.dim:
            problems.append(f"the ANN index has dimension {index.index.d}, not {info.dim}")
    finally:
        store.close()
    return problems


def _damaged_files(folder: IndexFolder, info: IndexInfo) -> list[str]:
    """The published files whose bytes are not what was published, each in words."""
    problems = _sqlite_problems(folder.db_path)
    recorded = info.checksums
    if FAISS_FILE not in recorded or VECTORS_FILE not in recorded or info.vector_rows is None:
        problems.append(
            f"{folder.info_path.name} records no checksums (format {info.format_version}): "
            "the next `medsearch index` run records them"
        )
        return problems
    try:
        ann.load_published(folder, info)
    except MedSearchError as exc:
        problems.append(exc.message)
    try:
        folder.vector_file(info.dim).checked_digest(info.vector_rows, recorded[VECTORS_FILE])
        # the rows are as published: the block digests a service checks them by must agree
        guard = guard_of(folder, info, None)
        if guard is not None:
            guard.check_all()
    except MedSearchError as exc:
        problems.append(exc.message)
    for field in info.group_fields or ():
        try:
            load_groups(folder, info, field)
        except (MedSearchError, OSError) as exc:
            problems.append(str(exc))
    try:
        load_null_scores(folder, info)
    except MedSearchError as exc:
        problems.append(exc.message)
    return problems


def _sqlite_problems(db_path: Path) -> list[str]:
    """What SQLite's integrity check finds wrong with the metadata database."""
    if not db_path.is_file():
        return [f"{db_path.name} is missing"]
    try:
        with contextlib.closing(sqlite3.connect(db_path)) as db:
            rows = [str(row[0]) for row in db.execute("PRAGMA integrity_check")]
    except sqlite3.Error as exc:
        return [f"{db_path.name} is damaged: {exc}"]
    if rows == ["ok"]:
        return []
    return [f"{db_path.name} is damaged: {'; '.join(rows[:5])}"]


def _compare_sets(problems: list[str], what: str, left: np.ndarray, right: np.ndarray) -> None:
    extra = np.setdiff1d(left, right)
    if len(extra):
        problems.append(f"{len(extra)} ids {what}, e.g. {extra[:5].tolist()}")


def check_recall(
    index_dir: Path, *, k: int = 10, queries: int = 200, seed: int = 0
) -> dict[str, Any]:
    """Recall@k of the published ANN index against exact search on held-out-like queries."""
    folder = IndexFolder(index_dir)
    info = folder.read_info()
    with folder.open_store() as store:
        ids = store.ids()
    index = ann.load_published(folder, info, checked=False)
    vectors = folder.vector_file(info.dim).rows_of(ids)
    if len(ids) == 0:
        return {"k": k, "queries": 0, "recall_at_k": None, "index_type": index.kind}
    sample = ann.sample_queries(vectors, queries, seed=seed)
    recall = ann.recall_at_k(index, vectors, ids, sample, k=k)
    return {"k": k, "queries": len(sample), "recall_at_k": recall, "index_type": index.kind}
