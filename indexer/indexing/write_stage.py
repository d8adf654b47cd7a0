"""The write stage: one SQLite transaction per batch, vectors on disk before the commit.

The indexing process is the only writer. Each content is embedded once per index: a file whose
bytes are already indexed (before the run or earlier in it) gets a copy of that vector, read back
from the vector file, whatever an engine computed for it. Vectors are fsynced just before the
commit of the rows that point at them, so a kill at any moment leaves every committed image with
its vector.

Long runs become searchable as they go: the writer publishes what is committed every
:data:`CHECKPOINT_EVERY` new images and at least every ``checkpoint_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np

from ..fault_points import fault_point
from ..records import MetadataValue
from ..storage.metadata_db import Store
from ..storage.schema import DescriptiveFields, FileState
from ..storage.vectors import VectorFile
from .report import IndexReport
from .stages import Failed, Prepared, Skipped

#: publish the ANN index at least this often during long runs (new images)
CHECKPOINT_EVERY = 20_000


class Writer:
    """Writes batches of outcomes into the store and the vector file, in order."""

    def __init__(
        self,
        store: Store,
        vectors: VectorFile,
        sidecar: Mapping[str, Mapping[str, MetadataValue]],
        report: IndexReport,
        checkpoint: Callable[[], None],
        checkpoint_seconds: float,
        source_fields: Callable[[str], Mapping[str, MetadataValue]] = lambda relpath: {},
    ) -> None:
        """``source_fields``: metadata a path gets from the corpus as a whole rather than from
        its own file (``series_slices``), added to what its file gives."""
        self.store = store
        self.vectors = vectors
        self.sidecar = sidecar
        self.report = report
        self.checkpoint = checkpoint
        self.states: dict[str, FileState] = store.file_states()
        # one id per distinct content, to copy vectors instead of embedding twice
        self.id_by_sha: dict[str, int] = {s.sha256: s.id for s in self.states.values()}
        self.checkpoint_seconds = checkpoint_seconds
        self.source_fields = source_fields
        self._since_publish = 0
        self._published_at = time.monotonic()

    def indexed_sha(self, relpath: str) -> str | None:
        """The content the index holds for ``relpath`` (None if it holds none)."""
        state = self.states.get(relpath)
        return state.sha256 if state else None

    def remove(self, relpaths: Collection[str], failed: Collection[str] = ()) -> int:
        """Remove the images of ``relpaths`` the index holds and the failure records of
        ``failed`` (in one transaction); return how many images went."""
        ids = [self.states[relpath].id for relpath in relpaths if relpath in self.states]
        if ids or failed:
            with self.store.writer() as w:
                w.delete_images(ids)
                w.clear_failures(failed)
        for relpath in relpaths:
            self.states.pop(relpath, None)
        # a removed image's vector is no longer there to copy
        self.id_by_sha = {s.sha256: s.id for s in self.states.values()}
        return len(ids)

    def write(self, batch: list[Prepared], other: list[Failed | Skipped]) -> None:
        """Write one batch in one transaction; publish when enough new images have piled up
        or the last publication is ``checkpoint_seconds`` old."""
        with self.report.clock.timing("write"):
            added = self._write(batch, other)
        self._since_publish += added
        overdue = time.monotonic() - self._published_at >= self.checkpoint_seconds
        if self._since_publish >= CHECKPOINT_EVERY or (self._since_publish and overdue):
            self.checkpoint()
            self._since_publish = 0
            self._published_at = time.monotonic()

    def _write(self, batch: list[Prepared], other: list[Failed | Skipped]) -> int:
        for item in other:
            if isinstance(item, Skipped):
                self.report.add_skipped(item.file.relpath, item.reason)
            else:
                self.report.failed.append(
                    {"path": item.file.relpath, "reason": item.reason, "message": item.message}
                )
        touched = [p for p in batch if self._is_touch(p)]
        fresh = [p for p in batch if not self._is_touch(p)]
        vectors = self._vectors_for(fresh)
        replaced = [self.states[p.file.relpath].id for p in fresh if p.file.relpath in self.states]
        rows = [self._row(p) for p in fresh]
        with self.store.writer() as w:
            for item in other:
                if isinstance(item, Failed):
                    f = item.file
                    w.record_failure(f.relpath, f.size, f.mtime, item.reason, item.message)
            w.delete_images(replaced)
            ids = w.add_images(rows)
            w.add_identifiers(
                [(i, p.file.uids) for p, i in zip(fresh, ids, strict=True) if p.file.uids]
            )
            if ids:
                # vectors reach the disk before the rows that point at them are committed
                self.vectors.write(ids, vectors)
                fault_point("batch:after-vectors")
            for p in touched:
                state = self.states[p.file.relpath]
                w.touch_image(state.id, p.file.size, p.file.mtime)
            w.clear_failures([p.file.relpath for p in batch])
        for row, new_id in zip(rows, ids, strict=True):
            self.id_by_sha.setdefault(row["sha256"], new_id)
        self.report.unchanged += len(touched)
        self.report.updated += len(replaced)
        self.report.indexed += len(ids)
        return len(ids)

    def _is_touch(self, p: Prepared) -> bool:
        return self.indexed_sha(p.file.relpath) == p.sha256

    def _vectors_for(self, fresh: list[Prepared]) -> np.ndarray:
        """One vector per image: the embed stage's for new contents, copies for the rest."""
        new: dict[str, np.ndarray] = {}
        for p in fresh:
            if p.sha256 not in self.id_by_sha:
                if p.vector is None:
                    raise ValueError(f"{p.file.relpath} reached the write stage without a vector")
                new.setdefault(p.sha256, p.vector)
        copies = {p.sha256 for p in fresh if p.sha256 not in new}
        by_sha = dict(new)
        copy_ids = [self.id_by_sha[sha] for sha in copies]
        by_sha.update(zip(copies, self.vectors.read(copy_ids), strict=True))
        self.report.embedded += len(new)
        self.report.duplicates += len(fresh) - len(new)
        if not fresh:
            return np.zeros((0, self.vectors.dim), dtype=np.float32)
        return np.stack([by_sha[p.sha256] for p in fresh])

    def _row(self, p: Prepared) -> dict[str, Any]:
        from_file = {**p.metadata, **self.source_fields(p.file.relpath)}
        described = DescriptiveFields.read_from_file(from_file).with_sidecar(
            self.sidecar.get(p.file.relpath, {})
        )
        return {
            "path": p.file.relpath,
            "sha256": p.sha256,
            "size": p.file.size,
            "mtime": p.file.mtime,
            "width": p.width,
            "height": p.height,
            "format": p.format,
            "modality": described.modality,
            "caption": described.caption,
            "extra": described.extra,
        }
