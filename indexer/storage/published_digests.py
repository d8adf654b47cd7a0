"""The digest of the vector file's published rows, kept from one checkpoint of a run to the next.

Each publication records the checksum of the rows of ``vectors.f16`` it publishes, and first
checks that the rows the previous version published still match theirs. Hashing those rows from
the start at every checkpoint of a long run would cost more and more as the index grows (ten
gigabytes at ten million vectors). Published rows are never written again, so a run keeps the
digest of what it published in a :class:`PublishedDigests`, and its next checkpoint goes on from
it: the published rows are read back once per run (its first publication), and each later
checkpoint hashes only the rows added since. A file replaced by another (a new inode) starts
afresh, and a publication without one (a library caller's) checks every published row.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .checksums import PrefixDigest


class PublishedDigests:
    """Digests of vector files' published rows, by file, kept by one indexing run."""

    def __init__(self) -> None:
        #: (device, inode) -> (rows, checksum, digest of those rows)
        self._digests: dict[tuple[int, int], tuple[int, str, PrefixDigest]] = {}
        self._lock = threading.Lock()

    def remembered(self, path: Path, rows: int, checksum: str) -> PrefixDigest | None:
        """A copy of the digest of the first ``rows`` rows of the file at ``path``, if one was
        kept and it matches ``checksum``; else None."""
        key = _identity(path)
        with self._lock:
            kept = self._digests.get(key) if key is not None else None
        if kept is None or kept[:2] != (rows, checksum):
            return None
        return kept[2].copy()

    def remember(self, path: Path, rows: int, digest: PrefixDigest) -> None:
        """Keep ``digest``, of the first ``rows`` rows of the file at ``path``."""
        key = _identity(path)
        if key is not None:
            with self._lock:
                self._digests[key] = (rows, digest.checksum(), digest.copy())


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino
