"""Near-duplicate images across a whole index, and the train/test leakage they make.

Two images are linked when the cosine of their stored vectors is at least the threshold, or
when their files have the same sha256 (exact copies, linked whatever the threshold). A cluster
is a connected set of linked images (union-find), so a chain of close images is one cluster.
Clusters come largest first, then closest (their highest link similarity), then by first id.

Up to :data:`EXACT_MAX` images every pair is scored (matrix products over blocks of queries):
the clusters equal a brute-force pairwise computation. Above it the vectors are split into
``2 * sqrt(n)`` lists by spherical k-means (FAISS), each vector put in its
:data:`LISTS_PER_VECTOR` nearest lists, and every pair within a list is scored by matrix
products: near-duplicates sit so close that they share a list, and the work grows as
``n^1.5`` rather than ``n^2``.

With ``across=FIELD`` only the clusters holding several values of that field are kept, and for
each pair of values the clusters spanning both are counted: a ``split`` field's train/test
leakage.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np

from ..records import MetadataValue
from ..storage.copies import every_checksum
from ..storage.folder import IndexFolder
from ..storage.info import IndexInfo
from ..storage.metadata_db import Store

#: up to this many images every pair is scored exactly
EXACT_MAX = 50_000
#: query vectors scored (or range-searched) at a time
QUERY_BLOCK = 512
#: the nearest lists each vector is put in, above EXACT_MAX images
LISTS_PER_VECTOR = 2
#: points the lists' centres are trained on, per list
TRAIN_PER_LIST = 20
#: vectors assigned to their lists at a time
ASSIGN_BLOCK = 16_384


@dataclass(frozen=True)
class IndexedVectors:
    """The published images of one index version: ids ascending, their stored vectors
    (float32, one row each) and their files' sha256."""

    ids: np.ndarray
    matrix: np.ndarray
    checksums: list[str]
    generation: int

    @classmethod
    def read(cls, folder: IndexFolder, store: Store, info: IndexInfo) -> IndexedVectors:
        ids, checksums = every_checksum(store.engine)
        vectors = folder.vector_file(info.dim)
        rows = info.vector_rows if info.vector_rows is not None else vectors.rows()
        published = ids <= rows
        ids = ids[published]
        checksums = [c for c, keep in zip(checksums, published.tolist(), strict=True) if keep]
        matrix = np.asarray(vectors.memmap()[ids - 1], dtype=np.float32).reshape(-1, info.dim)
        return cls(ids, matrix, checksums, info.generation)


@dataclass(frozen=True)
class Cluster:
    """Near-identical images: their ids (ascending), the highest and lowest similarity of the
    links that joined them, the groups of exact copies among them, and (with ``across``) how
    many of them hold each value of the field."""

    ids: tuple[int, ...]
    closest: float
    loosest: float
    exact_copies: tuple[tuple[int, ...], ...] = ()
    values: Mapping[MetadataValue, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "size": len(self.ids),
            "closest": round(self.closest, 6),
            "loosest": round(self.loosest, 6),
            "ids": list(self.ids),
            "exact_copies": [list(group) for group in self.exact_copies],
        }
        if self.values:
            data["values"] = [{"value": v, "count": n} for v, n in self.values.items()]
        return data


@dataclass(frozen=True)
class LeakagePair:
    """Two values of the ``across`` field and the clusters holding both (and their images of
    either value)."""

    first: MetadataValue
    second: MetadataValue
    clusters: int
    images: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": [self.first, self.second],
            "clusters": self.clusters,
            "images": self.images,
        }


@dataclass(frozen=True)
class DuplicateReport:
    """Every cluster of an index at one threshold (only those spanning values of ``across``)."""

    threshold: float
    #: ``given`` (a threshold named by the caller) or ``adaptive`` (the index's own)
    threshold_rule: str
    images: int
    clusters: list[Cluster]
    #: ``exact`` (every pair scored) or ``lists`` (pairs scored within k-means lists)
    method: str
    seconds: float
    across: str | None = None
    leakage: list[LeakagePair] = field(default_factory=list)

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        shown = self.clusters if limit is None else self.clusters[:limit]
        return {
            "threshold": self.threshold,
            "threshold_rule": self.threshold_rule,
            "images": self.images,
            "method": self.method,
            "seconds": round(self.seconds, 3),
            "across": self.across,
            "cluster_count": len(self.clusters),
            "images_in_clusters": sum(len(c.ids) for c in self.clusters),
            "leakage": [pair.to_dict() for pair in self.leakage],
            "clusters": [cluster.to_dict() for cluster in shown],
        }


def find_duplicates(
    indexed: IndexedVectors,
    threshold: float,
    *,
    threshold_rule: str = "given",
    across: str | None = None,
    across_values: Mapping[int, MetadataValue] | None = None,
) -> DuplicateReport:
    """The clusters of near-identical images of ``indexed`` at cosine ``threshold``; with
    ``across`` (and each image's value of it), only those spanning several values."""
    started = time.perf_counter()
    matrix = indexed.matrix
    method = "exact" if len(matrix) <= EXACT_MAX else "lists"
    first, second, sims = near_pairs(matrix, threshold)
    copy_first, copy_second = _copy_pairs(indexed.checksums)
    copy_sims = np.einsum("ij,ij->i", matrix[copy_first], matrix[copy_second])
    first = np.concatenate([first, copy_first])
    second = np.concatenate([second, copy_second])
    sims = np.concatenate([sims, copy_sims.astype(np.float32)])
    clusters = _clusters(indexed, first, second, sims)
    leakage: list[LeakagePair] = []
    if across is not None:
        values = across_values or {}
        clusters = [_with_values(c, values) for c in clusters]
        clusters = [c for c in clusters if len(c.values) > 1]
        leakage = leakage_pairs(clusters)
    seconds = time.perf_counter() - started
    return DuplicateReport(
        threshold, threshold_rule, len(matrix), clusters, method, seconds, across, leakage
    )


def near_pairs(matrix: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``first < second`` whose inner product is at least ``threshold``, and that
    product: every pair scored up to :data:`EXACT_MAX` rows, the pairs within lists above."""
    if len(matrix) <= EXACT_MAX:
        return _exact_pairs(matrix, threshold)
    return _bucket_pairs(matrix, threshold)


def _exact_pairs(matrix: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, len(matrix), QUERY_BLOCK):
        # only the columns after each query row: every pair is scored once
        scores = matrix[start : start + QUERY_BLOCK] @ matrix[start:].T
        rows, cols = np.nonzero(scores >= np.float32(threshold))
        later = cols > rows
        rows, cols = rows[later], cols[later]
        found.append((rows + start, cols + start, scores[rows, cols]))
    return _joined(found)


def _bucket_pairs(
    matrix: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, dim = matrix.shape
    lists = max(1, int(2 * math.sqrt(n)))
    sample = np.random.default_rng(0).choice(n, min(n, TRAIN_PER_LIST * lists), replace=False)
    kmeans = faiss.Kmeans(dim, lists, niter=10, seed=0, spherical=True, min_points_per_centroid=1)
    kmeans.train(np.ascontiguousarray(matrix[np.sort(sample)]))
    centroids = np.asarray(kmeans.centroids, dtype=np.float32)
    visits = min(LISTS_PER_VECTOR, lists)
    assigned = np.empty((n, visits), dtype=np.int64)
    for start in range(0, n, ASSIGN_BLOCK):
        scores = matrix[start : start + ASSIGN_BLOCK] @ centroids.T
        assigned[start : start + ASSIGN_BLOCK] = np.argpartition(-scores, visits - 1, axis=1)[
            :, :visits
        ]
    rows = np.repeat(np.arange(n), visits)
    by_list = np.argsort(assigned.reshape(-1), kind="stable")
    bounds = np.searchsorted(assigned.reshape(-1)[by_list], np.arange(lists + 1))
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for number in range(lists):
        members = np.sort(rows[by_list[bounds[number] : bounds[number + 1]]])
        vectors = matrix[members]
        for start in range(0, len(members), QUERY_BLOCK):
            scores = vectors[start : start + QUERY_BLOCK] @ vectors[start:].T
            first, second = np.nonzero(scores >= np.float32(threshold))
            later = second > first
            first, second = first[later], second[later]
            found.append((members[first + start], members[second + start], scores[first, second]))
    first, second, sims = _joined(found)
    # a pair sharing both of its lists is found twice
    _, unique = np.unique(first * n + second, return_index=True)
    return first[unique], second[unique], sims[unique]


def _joined(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    first, second, sims = (np.concatenate(column) for column in zip(*parts, strict=True))
    return first.astype(np.int64), second.astype(np.int64), sims.astype(np.float32)


def _copy_pairs(checksums: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of exact copies: each row linked to the first row of its checksum."""
    first_row: dict[str, int] = {}
    firsts: list[int] = []
    seconds: list[int] = []
    for row, checksum in enumerate(checksums):
        if checksum in first_row:
            firsts.append(first_row[checksum])
            seconds.append(row)
        else:
            first_row[checksum] = row
    return np.asarray(firsts, dtype=np.int64), np.asarray(seconds, dtype=np.int64)


class _UnionFind:
    """Disjoint sets over row numbers, with path halving and union by size."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.size: dict[int, int] = {}

    def find(self, row: int) -> int:
        self.parent.setdefault(row, row)
        self.size.setdefault(row, 1)
        while self.parent[row] != row:
            self.parent[row] = self.parent[self.parent[row]]
            row = self.parent[row]
        return row

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return
        if self.size[root_a] < self.size[root_b]:
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.size[root_a] += self.size[root_b]


def _clusters(
    indexed: IndexedVectors, first: np.ndarray, second: np.ndarray, sims: np.ndarray
) -> list[Cluster]:
    sets = _UnionFind()
    for a, b in zip(first.tolist(), second.tolist(), strict=True):
        sets.union(a, b)
    members: dict[int, list[int]] = {}
    for row in sets.parent:
        members.setdefault(sets.find(row), []).append(row)
    closest: dict[int, float] = {}
    loosest: dict[int, float] = {}
    for a, sim in zip(first.tolist(), sims.tolist(), strict=True):
        root = sets.find(a)
        closest[root] = max(closest.get(root, -2.0), sim)
        loosest[root] = min(loosest.get(root, 2.0), sim)
    clusters = []
    for root, rows in members.items():
        rows.sort()
        ids = tuple(int(indexed.ids[row]) for row in rows)
        by_checksum: dict[str, list[int]] = {}
        for row, image_id in zip(rows, ids, strict=True):
            by_checksum.setdefault(indexed.checksums[row], []).append(image_id)
        copies = tuple(tuple(group) for group in by_checksum.values() if len(group) > 1)
        clusters.append(Cluster(ids, closest[root], loosest[root], copies))
    clusters.sort(key=lambda c: (-len(c.ids), -c.closest, c.ids[0]))
    return clusters


def _with_values(cluster: Cluster, values: Mapping[int, MetadataValue]) -> Cluster:
    held = Counter(values[i] for i in cluster.ids if values.get(i) is not None)
    ordered = dict(sorted(held.items(), key=lambda item: value_order(item[0])))
    return Cluster(cluster.ids, cluster.closest, cluster.loosest, cluster.exact_copies, ordered)


def value_order(value: MetadataValue) -> tuple[str, str]:
    """A total order over metadata values of mixed types."""
    return type(value).__name__, str(value)


def leakage_pairs(clusters: list[Cluster]) -> list[LeakagePair]:
    """For each pair of values held together in some cluster: the clusters holding both and
    their images holding either; most clusters first."""
    counts: dict[tuple[MetadataValue, MetadataValue], list[int]] = {}
    for cluster in clusters:
        for a, b in itertools.combinations(cluster.values, 2):
            tally = counts.setdefault((a, b), [0, 0])
            tally[0] += 1
            tally[1] += cluster.values[a] + cluster.values[b]
    pairs = [LeakagePair(a, b, n, images) for (a, b), (n, images) in counts.items()]
    pairs.sort(key=lambda p: (-p.clusters, value_order(p.first), value_order(p.second)))
    return pairs


def cluster_codes(matrix: np.ndarray, threshold: float) -> np.ndarray:
    """Each row's near-duplicate cluster at ``threshold`` (the connected sets of rows within
    that cosine), numbered from 0; -1 for a row in no cluster."""
    first, second, _ = near_pairs(matrix, threshold)
    sets = _UnionFind()
    for a, b in zip(first.tolist(), second.tolist(), strict=True):
        sets.union(a, b)
    found = np.full(len(matrix), -1, dtype=np.int64)
    numbers: dict[int, int] = {}
    for row in sorted(sets.parent):
        found[row] = numbers.setdefault(sets.find(row), len(numbers))
    return found
