"""The contents an index already holds, in a compact form to send to decoding processes.

A decoding task skips the pixels of a file whose content is already embedded (its vector is
copied). Sending every sha256 as a Python string costs about 70 bytes each; the first 16 bytes of
each digest, sorted in one array, cost 16, and a lookup is a binary search. Two different
contents sharing their first 128 bits is as unlikely as a sha256 collision is for any practical
corpus, and a wrong answer would only leave one file to be embedded from its own pixels.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: bytes of each digest kept
PREFIX_BYTES = 16
_DTYPE = np.dtype(f"S{PREFIX_BYTES}")


class KnownContents:
    """A set of sha256 hex digests, answering ``sha in known``; picklable and small."""

    def __init__(self, digests: Iterable[str]) -> None:
        prefixes = [bytes.fromhex(sha[: 2 * PREFIX_BYTES]) for sha in digests]
        self._sorted = np.unique(np.asarray(prefixes, dtype=_DTYPE))

    def __contains__(self, sha: object) -> bool:
        if not isinstance(sha, str) or len(sha) < 2 * PREFIX_BYTES:
            return False
        try:
            key = np.asarray(bytes.fromhex(sha[: 2 * PREFIX_BYTES]), dtype=_DTYPE)
        except ValueError:
            return False
        at = int(np.searchsorted(self._sorted, key))
        return at < len(self._sorted) and self._sorted[at] == key

    def __len__(self) -> int:
        return len(self._sorted)

    @property
    def nbytes(self) -> int:
        """Bytes the set's array takes."""
        return int(self._sorted.nbytes)
