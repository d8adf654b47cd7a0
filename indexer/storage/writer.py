"""Writes to the metadata database, one unit of work per transaction.

:meth:`Store.writer() <indexer.storage.metadata_db.Store.writer>` opens a transaction and hands out
a :class:`MetadataWriter` for it::

    with store.writer() as w:
        ids = w.add_images(rows)
        vectors.write(ids, embeddings)  # durable before the rows that point at them commit
        w.clear_failures(paths)

Everything written through ``w`` is committed together when the block ends, or rolled back if it
raises. Whatever the block writes elsewhere, such as the vectors of the images it adds, is
therefore on disk before the rows that need it are committed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..records import InstanceUIDs, MetadataValue
from . import keyword_index, value_codes
from .field_kinds import Pairs, pairs_of, record_pairs
from .schema import DescriptiveFields, FailureRow, IdentifierRow, ImageRow
from .sql import in_chunks


class MetadataWriter:
    """The writes of one transaction on the metadata database."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add_images(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Insert image rows; return their new ids (in order)."""
        if not rows:
            return []
        now = time.time()
        objects = [ImageRow(indexed_at=now, **dict(r)) for r in rows]
        self._session.add_all(objects)
        self._session.flush()
        record_pairs(self._session, pairs_of(r.get("extra") for r in rows))
        keyword_index.add_rows(self._session, (_words(o) for o in objects))
        value_codes.add_rows(
            self._session.connection(), [(o.id, value_codes.row_fields(o)) for o in objects]
        )
        return [o.id for o in objects]

    def insert_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert complete image rows, ids and ``indexed_at`` included.

        One bulk statement, no ORM objects: for rows made in bulk elsewhere (the synthetic rows
        of a benchmark index), where building an object per row would cost more than the insert.
        """
        if rows:
            self._session.execute(insert(ImageRow), [dict(r) for r in rows])
            record_pairs(self._session, pairs_of(r.get("extra") for r in rows))
            keyword_index.add_rows(
                self._session,
                ((r["id"], r.get("caption"), r.get("modality"), r.get("extra")) for r in rows),
            )
            value_codes.add_rows(
                self._session.connection(), [(r["id"], value_codes.row_fields(r)) for r in rows]
            )

    def add_identifiers(self, pairs: Iterable[tuple[int, InstanceUIDs]]) -> None:
        """Record the DICOM identifiers of newly added PACS images."""
        self._session.add_all(
            IdentifierRow(image_id=i, study_uid=u[0], series_uid=u[1], sop_uid=u[2])
            for i, u in pairs
        )

    def delete_images(self, ids: Iterable[int]) -> None:
        removed = pairs_of([])
        ids = [int(i) for i in ids]
        keyword_index.remove_ids(self._session, ids)
        value_codes.remove_ids(self._session.connection(), ids)
        for condition in in_chunks(ImageRow.id, ids):
            removed += pairs_of(self._session.scalars(select(ImageRow.extra).where(condition)))
            self._session.execute(delete(ImageRow).where(condition))
        record_pairs(self._session, pairs_of([]), removed)

    def touch_image(self, image_id: int, size: int, mtime: float) -> None:
        """Record a new size and modification time of an image whose content is unchanged."""
        row = self._session.get(ImageRow, image_id)
        if row is not None:
            row.size, row.mtime = size, mtime

    def record_failure(self, path: str, size: int, mtime: float, reason: str, message: str) -> None:
        self._session.merge(
            FailureRow(
                path=path,
                size=size,
                mtime=mtime,
                reason=reason,
                message=message,
                failed_at=time.time(),
            )
        )

    def clear_failures(self, paths: Iterable[str]) -> None:
        for condition in in_chunks(FailureRow.path, paths):
            self._session.execute(delete(FailureRow).where(condition))

    def update_extra(self, fields: Mapping[str, Mapping[str, MetadataValue]]) -> int:
        """Set the given extra fields of already indexed rows (path -> fields) where they
        differ; return how many rows changed."""
        rewritten: list[ImageRow] = []
        before, after = pairs_of([]), pairs_of([])
        for condition in in_chunks(ImageRow.path, fields):
            for row in self._session.scalars(select(ImageRow).where(condition)):
                extra = dict(row.extra or {})
                if any(extra.get(name) != value for name, value in fields[row.path].items()):
                    before += pairs_of([extra])
                    row.extra = {**extra, **fields[row.path]}
                    after += pairs_of([row.extra])
                    rewritten.append(row)
        self._rewritten(rewritten, before, after)
        return len(rewritten)

    def apply_sidecar(self, metadata: Mapping[str, Mapping[str, MetadataValue]]) -> int:
        """Set caption, modality and extra fields from a sidecar on already indexed rows;
        return how many rows changed."""
        rewritten: list[ImageRow] = []
        before, after = pairs_of([]), pairs_of([])
        for condition in in_chunks(ImageRow.path, metadata):
            for row in self._session.scalars(select(ImageRow).where(condition)):
                current = DescriptiveFields(row.caption, row.modality, row.extra or {})
                updated = current.with_sidecar(metadata[row.path])
                if updated != (row.caption, row.modality, row.extra):
                    before += pairs_of([row.extra])
                    after += pairs_of([updated.extra])
                    row.caption, row.modality, row.extra = updated
                    rewritten.append(row)
        self._rewritten(rewritten, before, after)
        return len(rewritten)

    def _rewritten(self, rows: Sequence[ImageRow], before: Pairs, after: Pairs) -> None:
        """Bring what is kept beside the rows (field kinds, keywords, value codes) in line with
        rows written again, whose fields had the kinds ``before`` and have ``after``."""
        record_pairs(self._session, after, before)
        keyword_index.replace_rows(self._session, [_words(row) for row in rows])
        value_codes.replace_rows(
            self._session.connection(), [(r.id, value_codes.row_fields(r)) for r in rows]
        )


def _words(row: ImageRow) -> keyword_index.Words:
    """What the keyword index holds of a row."""
    return row.id, row.caption, row.modality, row.extra
