"""Exact copies in the metadata database: images whose files have the same sha256.

Identical bytes are embedded once and their images share a vector, so a search or a duplicate
report folds them together; these reads give the checksums of some images and the images of
some checksums, a statement's worth of values at a time.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sqlalchemy import Engine, select

from .schema import ImageRow
from .sql import in_chunks, raw_rows


def checksums_of(engine: Engine, ids: Iterable[int]) -> dict[int, str]:
    """The sha256 of each of ``ids`` that is indexed."""
    found: dict[int, str] = {}
    with engine.connect() as connection:
        for condition in in_chunks(ImageRow.id, [int(i) for i in ids]):
            query = select(ImageRow.id, ImageRow.sha256).where(condition)
            for image_id, checksum in connection.execute(query):
                found[int(image_id)] = checksum
    return found


def images_with_checksums(engine: Engine, checksums: Iterable[str]) -> dict[str, list[int]]:
    """The ids of the images holding each of ``checksums``, ascending."""
    found: dict[str, list[int]] = {}
    with engine.connect() as connection:
        for condition in in_chunks(ImageRow.sha256, list(set(checksums))):
            query = select(ImageRow.sha256, ImageRow.id).where(condition).order_by(ImageRow.id)
            for checksum, image_id in connection.execute(query):
                found.setdefault(checksum, []).append(int(image_id))
    return found


def every_checksum(engine: Engine) -> tuple[np.ndarray, list[str]]:
    """Every image's id (ascending) and sha256."""
    query = select(ImageRow.id, ImageRow.sha256).order_by(ImageRow.id)
    with raw_rows(engine, query) as rows:
        pairs = list(rows)
    ids = np.fromiter((row[0] for row in pairs), dtype=np.int64, count=len(pairs))
    return ids, [row[1] for row in pairs]
