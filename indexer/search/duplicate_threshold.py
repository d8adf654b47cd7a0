"""The index's own near-duplicate threshold, from how close its images usually are.

A fixed cosine means different things for different models (a random-weight model puts every
pair above 0.999, a trained one spreads them out), so the default threshold is measured on the
index. The rule: take up to :data:`SAMPLE` images (seeded), find each one's nearest neighbour
among all the others (exact copies, the same sha256, left out) and its distance ``1 - cosine``;
near-duplicates are images at least :data:`CLOSER_BY` times closer to each other than the
median image is to its nearest neighbour, so the threshold is ``1 - median distance /
CLOSER_BY``, kept within [:data:`LOWEST`, :data:`HIGHEST`].

It is computed on demand and cached beside the index in ``duplicate_threshold.json``, keyed by
the index generation: a new publication computes it again. A folder that cannot be written only
loses the cache.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..storage.atomic import write_atomic
from .duplicates import IndexedVectors

#: images whose nearest neighbours are measured
SAMPLE = 1000
#: how many times closer than the median nearest neighbour a near-duplicate is
CLOSER_BY = 10.0
LOWEST = 0.5
HIGHEST = 0.99999
CACHE_FILE = "duplicate_threshold.json"
#: stored columns scored at a time
COLUMN_BLOCK = 65_536
RULE = (
    f"1 - median nearest-neighbour distance / {CLOSER_BY:g}, over up to {SAMPLE} sampled images,"
    f" within [{LOWEST}, {HIGHEST}]"
)


@dataclass(frozen=True)
class AdaptiveThreshold:
    """The threshold, what it was measured from, and the version of the index it fits."""

    threshold: float
    median_neighbour_similarity: float | None
    sample: int
    generation: int
    rule: str = RULE

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def adaptive_threshold(indexed: IndexedVectors, folder: Path | None = None) -> AdaptiveThreshold:
    """The index's threshold, read from ``folder``'s cache when it fits this generation."""
    cached = _read_cache(folder, indexed.generation)
    if cached is not None:
        return cached
    measured = measure_threshold(indexed)
    if folder is not None:
        with contextlib.suppress(OSError):
            text = json.dumps(measured.to_dict(), indent=2) + "\n"
            write_atomic(folder / CACHE_FILE, text.encode(), durable=False)
    return measured


def measure_threshold(indexed: IndexedVectors) -> AdaptiveThreshold:
    """The threshold by the rule above, measured now."""
    neighbours = nearest_neighbour_similarities(indexed)
    if len(neighbours) == 0:
        return AdaptiveThreshold(HIGHEST, None, 0, indexed.generation)
    median = float(np.median(neighbours))
    threshold = 1.0 - (1.0 - median) / CLOSER_BY
    threshold = float(min(max(threshold, LOWEST), HIGHEST))
    return AdaptiveThreshold(round(threshold, 6), median, len(neighbours), indexed.generation)


def nearest_neighbour_similarities(indexed: IndexedVectors) -> np.ndarray:
    """Each sampled image's highest cosine with an image that is not an exact copy of it."""
    matrix = indexed.matrix
    n = len(matrix)
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(n, min(n, SAMPLE), replace=False))
    # the same code for the same sha256: exact copies compared as integers
    checksums = np.unique(np.asarray(indexed.checksums), return_inverse=True)[1].reshape(-1)
    best = np.full(len(rows), -np.inf, dtype=np.float32)
    for start in range(0, n, COLUMN_BLOCK):
        scores = matrix[rows] @ matrix[start : start + COLUMN_BLOCK].T
        block_sums = checksums[start : start + COLUMN_BLOCK]
        copies = checksums[rows][:, None] == block_sums[None, :]
        scores[copies] = -np.inf  # the image itself and its exact copies
        best = np.maximum(best, scores.max(axis=1, initial=-np.inf))
    return best[np.isfinite(best)]


def _read_cache(folder: Path | None, generation: int) -> AdaptiveThreshold | None:
    if folder is None:
        return None
    try:
        data = json.loads((folder / CACHE_FILE).read_text(encoding="utf-8"))
        cached = AdaptiveThreshold(**data)
    except (OSError, ValueError, TypeError):
        return None
    if cached.generation != generation or cached.rule != RULE:
        return None
    return cached
