"""Which blocks of a served version's ``vectors.f16`` have been checked against their digests.

A service does not hash the whole vector file before it answers. It checks the published block
list (:mod:`indexer.storage.vector_blocks`) at start; then every read of rows (a re-rank, an
exact search, a stored vector returned) first checks the blocks holding them that are not
checked yet (:meth:`BlockGuard.check_rows`), and a background thread checks the other blocks
one after another at a lower priority. The first block that does not match flags the version
damaged: every later read, and every search, raises :class:`~indexer.errors.IndexDamagedError`
(HTTP 503 with the reason) until a new version is served. A new version of the same file takes
over the checked state of the blocks whose digests did not change and checks the changed ones
at once, before it is served.

The checked blocks are a boolean array that only ever turns true, so readers look at it without
the lock; two threads may check the same block at once, which costs time but not correctness.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
import numpy.typing as npt

from ..errors import IndexDamagedError
from .vector_blocks import VECTOR_BLOCKS_FILE, VectorBlocks, read_blocks

log = logging.getLogger(__name__)

#: the background check's niceness (Linux gives each thread its own)
BACKGROUND_NICENESS = 10


@dataclass(frozen=True)
class BlockCheckState:
    """What a guard knows now: blocks in all, those not checked yet, the damage found (or None)."""

    blocks: int
    unchecked: int
    damage: str | None


class BlockGuard:
    """The checked blocks of one version's vector file, and the damage found in it."""

    def __init__(self, path: Path, blocks: VectorBlocks, row_bytes: int) -> None:
        self.path = path
        self.blocks = blocks
        self._row_bytes = row_bytes
        self._checked = np.zeros(len(blocks), dtype=bool)
        self._unchecked = len(blocks)
        self._lock = threading.Lock()
        self._damage: str | None = None
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None

    def state(self) -> BlockCheckState:
        return BlockCheckState(len(self.blocks), self._unchecked, self._damage)

    def checked(self) -> npt.NDArray[np.bool_]:
        """Whether each block has been checked (a copy)."""
        return self._checked.copy()

    def raise_if_damaged(self) -> None:
        if self._damage is not None:
            raise IndexDamagedError(self._damage)

    def check_rows(self, rows: npt.NDArray[np.int64]) -> None:
        """Check the unchecked blocks holding the 0-based ``rows`` (rows past the published
        ones are not covered); :class:`IndexDamagedError` once any block is found damaged."""
        self.raise_if_damaged()
        if self._unchecked == 0 or len(rows) == 0:
            return
        wanted = self.blocks.blocks_of_rows(np.asarray(rows, dtype=np.int64), self._row_bytes)
        wanted = wanted[wanted < len(self.blocks)]
        self._check(wanted[~self._checked[wanted]])

    def check_all(self) -> None:
        """Check every block not checked yet, now (:class:`IndexDamagedError` at the first
        damaged one)."""
        self.raise_if_damaged()
        self._check(np.flatnonzero(~self._checked))

    def continue_from(self, previous: BlockGuard) -> None:
        """Take over what ``previous`` (the served version before) checked of the blocks whose
        digests are unchanged, and check the changed and new ones now (a damaged ``previous``
        passes on nothing)."""
        if previous.state().damage is not None:
            return
        same = _same_digests(previous.blocks, self.blocks)
        with self._lock:
            carried = same & previous._checked[: len(same)]
            self._checked[: len(same)] |= carried
            self._unchecked = int(len(self._checked) - self._checked.sum())
        self._check(np.concatenate((np.flatnonzero(~same), np.arange(len(same), len(self.blocks)))))

    def check_in_background(self) -> None:
        """Check every block not checked yet in a daemon thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._check_the_rest, name=f"check {self.path.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Let the background check end after its current block."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background check to end; whether it did."""
        return self._thread is None or self._finished.wait(timeout)

    def _check_the_rest(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
        except (AttributeError, OSError):  # not Linux, or not allowed: check at full priority
            pass
        try:
            self._check(np.flatnonzero(~self._checked), stop=self._stop)
        except IndexDamagedError as exc:
            log.error("%s", exc.message)
        finally:
            self._finished.set()

    def _check(self, blocks: npt.NDArray[np.int64], stop: threading.Event | None = None) -> None:
        """Read and hash the (sorted) ``blocks``, runs of consecutive ones read together; flag
        the version damaged at the first that does not match. ``stop`` ends the check early."""
        if len(blocks) == 0:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            self._flag(f"{self.path.name} cannot be read ({exc.strerror})")
        try:
            for first, end in _runs(blocks):
                for block, content in read_blocks(fd, self.blocks, first, end):
                    if stop is not None and (stop.is_set() or self._damage is not None):
                        return
                    if self._checked[block]:
                        continue
                    if not self.blocks.matches(block, content):
                        start, end_byte = self.blocks.span(block)
                        self._flag(
                            f"{self.path.name} bytes {start} to {end_byte} do not match the "
                            f"digest {VECTOR_BLOCKS_FILE} records"
                        )
                    with self._lock:
                        if not self._checked[block]:
                            self._checked[block] = True
                            self._unchecked -= 1
        except OSError as exc:
            self._flag(f"{self.path.name} cannot be read ({exc.strerror})")
        finally:
            os.close(fd)

    def _flag(self, what: str) -> NoReturn:
        message = (
            f"{what}: the stored embeddings are damaged and this index version is refused; "
            "rebuild the index into a new folder with `medsearch index CORPUS --index NEW_FOLDER`"
        )
        with self._lock:
            if self._damage is None:
                self._damage = message
        raise IndexDamagedError(self._damage or message)


def _same_digests(previous: VectorBlocks, current: VectorBlocks) -> npt.NDArray[np.bool_]:
    """For each of ``current``'s blocks that ``previous`` also has: whether its digest (and so its
    bytes) is the same; nothing is the same across two block sizes."""
    shared = min(len(previous), len(current))
    if previous.block_bytes != current.block_bytes:
        return np.zeros(shared, dtype=bool)
    return np.all(previous.digests[:shared] == current.digests[:shared], axis=1)


def _runs(blocks: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
    """The sorted ``blocks`` as runs [first, end) of consecutive blocks."""
    breaks = np.flatnonzero(np.diff(blocks) != 1) + 1
    starts = np.concatenate(([0], breaks))
    ends = np.concatenate((breaks, [len(blocks)]))
    return [(int(blocks[a]), int(blocks[b - 1]) + 1) for a, b in zip(starts, ends, strict=True)]
