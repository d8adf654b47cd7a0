"""The compact set of indexed contents sent to decoding tasks answers like the set of digests."""

from __future__ import annotations

import pickle

import numpy as np

from indexer.indexing.known_contents import KnownContents


def test_known_contents_answer_like_the_set_of_digests() -> None:
    rng = np.random.default_rng(7)
    digests = {rng.bytes(32).hex() for _ in range(2000)}
    known = KnownContents(digests)
    assert len(known) == len(digests)
    assert known.nbytes == 16 * len(digests)
    for sha in list(digests)[:200]:
        assert sha in known
        # differs only after the 16 bytes kept: the same prefix, so the same answer
        assert sha[:32] + "0" * 32 in known
        # differs within the kept bytes
        assert sha[:31] + ("0" if sha[31] != "0" else "1") + sha[32:] not in known
    others = {rng.bytes(32).hex() for _ in range(2000)} - digests
    assert not any(sha in known for sha in others)
    assert "" not in known and "not hex" * 10 not in known and 5 not in known
    assert KnownContents([]).nbytes == 0 and "ab" * 32 not in KnownContents([])
    restored = pickle.loads(pickle.dumps(known))
    assert all(sha in restored for sha in digests)
