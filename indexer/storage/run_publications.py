"""What an indexing run published, kept from one checkpoint to the next: the digest of the vector
file's published rows, and the ANN index as it was saved.

Each publication records the checksum of the rows of ``vectors.f16`` it publishes, and first
checks that the rows the previous version published still match theirs. Hashing those rows from
the start at every checkpoint of a long run would cost more and more as the index grows (ten
gigabytes at ten million vectors). Published rows are never written again, so a run keeps the
digest of what it published in a :class:`PublishedDigests`, and its next checkpoint goes on from
it: the published rows are read back once per run (its first publication), and each later
checkpoint hashes only the rows added since. A file replaced by another (a new inode) starts
afresh, and a publication without one (a library caller's) checks every published row.

Likewise the ANN index a checkpoint saved stays in memory for the next one, which updates it
instead of reading and hashing ``index.faiss`` again (hundreds of megabytes at a million
vectors); it is used only while the published checksums are the ones it was saved with. Other
published files a checkpoint carries over unchanged (the main file of block digests, 20 MB at
ten million vectors) are kept the same way, while the file is the one read or written.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .. import ann
from .checksums import PrefixDigest


class RunPublications:
    """What one indexing run published: digests of vector files' published rows, by file, and
    its last saved ANN index."""

    def __init__(self) -> None:
        #: (device, inode) -> (rows, checksum, digest of those rows)
        self._digests: dict[tuple[int, int], tuple[int, str, PrefixDigest]] = {}
        self._lock = threading.Lock()
        #: the checksums of the files the index was saved to (one key), the index, and the
        #: signature of its main file
        self._index: tuple[str, ann.AnnIndex, tuple[int, ...] | None] | None = None
        #: path -> (checksum, signature, what the file holds), for :meth:`kept_file`
        self._files: dict[Path, tuple[str, tuple[int, ...] | None, object]] = {}

    def take_index(self, files_key: str, main_file: Path) -> tuple[ann.AnnIndex, bool] | None:
        """The index saved to files of these checksums, handed over (a failed publication that
        changed it must not leave it here), and whether ``main_file`` is still the file it was
        saved to (not replaced nor written since; a checkpoint that only adds to the recent part
        would otherwise keep publishing a damaged main file); or None."""
        with self._lock:
            kept, self._index = self._index, None
        if kept is None or kept[0] != files_key:
            return None
        return kept[1], kept[2] == _signature(main_file)

    def keep_index(self, files_key: str, index: ann.AnnIndex, main_file: Path) -> None:
        """Keep ``index``, published to files of these checksums, its main part in
        ``main_file``, for the next checkpoint."""
        with self._lock:
            self._index = (files_key, index, _signature(main_file))

    def kept_file(self, path: Path, checksum: str) -> object | None:
        """What :meth:`keep_file` kept of the file at ``path`` with ``checksum``, while that
        file is neither replaced nor written since; else None."""
        with self._lock:
            kept = self._files.get(path)
        if kept is None or kept[0] != checksum or kept[1] != _signature(path):
            return None
        return kept[2]

    def keep_file(self, path: Path, checksum: str, content: object) -> None:
        """Keep ``content``, read from or written to the file at ``path`` (of ``checksum``),
        so that the next checkpoint need not read and check that file again."""
        with self._lock:
            self._files[path] = (checksum, _signature(path), content)

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


def _signature(path: Path) -> tuple[int, ...] | None:
    """What changes when a file is replaced or written: its inode, size and modification time."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino
