"""The dense ranking of images for one query in one published version, as pages of hits.

An :class:`ImageSearch` holds what one search ranks: the snapshot, the unit query vector, the
eligible ids (None: every image) and those left out, and the score floor. It gives the best
eligible score (for cut-offs relative to it), a page with exact copies and near-duplicates
folded (:mod:`indexer.search.dedupe`), and a page collapsed to one result per value of a field
(:mod:`indexer.search.collapse`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..records import GroupSummary, Hit
from ..storage.copies import checksums_of, images_with_checksums
from ..storage.filters import Filters
from ..storage.metadata_db import Store
from .collapse import GroupScorer, collapsed_ranking, matches
from .dedupe import FoldRequest, FoldSource, folded_page
from .snapshot import Snapshot

#: the ids of every image scoring at least a floor for a query (cached by the Retriever)
WithinFloor = Callable[[np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class ImageSearch:
    """What one search of images ranks: the query, the eligible ids (None: all), those left
    out and the score floor (None: none)."""

    store: Store
    snapshot: Snapshot
    query: np.ndarray
    allowed: np.ndarray | None
    exclude: np.ndarray
    min_score: float | None = None

    def best_score(self) -> float | None:
        """The best score of the query's eligible images (None: there is none)."""
        scores, ids = self.snapshot.top(self.query, 1 + len(self.exclude), self.allowed)
        scores, _ = matches(scores, ids, self.exclude, None)
        return float(scores[0]) if len(scores) else None

    def folded(
        self, k: int, offset: int, dedupe: float | None, eligible: int, within: WithinFloor
    ) -> list[Hit]:
        """The page of results with their copies folded into them."""
        request = FoldRequest(
            self.query, k, offset, dedupe, eligible, self.allowed, self.exclude, self.min_score
        )
        page = folded_page(self._fold_source(within), request)
        ids = np.asarray([result.id for result in page], dtype=np.int64)
        scores = np.asarray([result.score for result in page], dtype=np.float32)
        return hits_of(self.store, scores, ids, copies={r.id: r.copies for r in page})

    def collapsed(
        self, field: str, k: int, offset: int, eligible: int, filters: Filters | None
    ) -> tuple[list[Hit], int]:
        """The page of groups of a search collapsed on ``field``, and how many groups are
        eligible."""
        store, snapshot, query, allowed = self.store, self.snapshot, self.query, self.allowed
        group_total = store.groups.count(field, filters)
        wanted = min(k + offset, group_total)
        if wanted == 0 or eligible == 0:
            return [], group_total
        groups = collapsed_ranking(
            top=lambda want: snapshot.top(query, want, allowed),
            exact=lambda: snapshot.exact_ranking(query, allowed, store.ids),
            values_of=lambda ids: store.groups.values_of(field, ids.tolist()),
            wanted=wanted,
            eligible=eligible,
            exclude=self.exclude,
            min_score=self.min_score,
        )
        scorer = GroupScorer(
            store, snapshot.vectors, field, query, allowed, self.exclude, self.min_score
        )
        # a page's groups in the order of their exact best scores (an ANN ranking may have
        # found a group through another of its images)
        best = sorted(scorer.summaries(groups[offset : offset + k]), key=lambda b: -b[1])
        ids = np.asarray([image for image, _, _ in best], dtype=np.int64)
        scores = np.asarray([score for _, score, _ in best], dtype=np.float32)
        hits = hits_of(store, scores, ids, {image: summary for image, _, summary in best})
        return hits, group_total

    def _fold_source(self, within: WithinFloor) -> FoldSource:
        store, snapshot, query, allowed = self.store, self.snapshot, self.query, self.allowed
        engine = store.engine
        return FoldSource(
            top=lambda want: snapshot.top(query, want, allowed),
            exact=lambda: snapshot.exact_ranking(query, allowed, store.ids),
            vectors_of=lambda ids: snapshot.vectors.read(np.asarray(ids, dtype=np.int64)),
            checksums_of=lambda ids: checksums_of(engine, ids),
            images_with=lambda sums: images_with_checksums(engine, sums),
            within=within,
        )


def hits_of(
    store: Store,
    scores: np.ndarray,
    ids: np.ndarray,
    groups: Mapping[int, GroupSummary] | None = None,
    copies: Mapping[int, Sequence[tuple[int, float]]] | None = None,
) -> list[Hit]:
    """The hits of ranked ids with their records (ids pruned since publication are skipped)."""
    records = store.get_many(ids.tolist())
    return [
        Hit(
            id=int(i),
            score=float(s),
            path=records[int(i)].path,
            caption=records[int(i)].caption,
            metadata=records[int(i)].metadata(),
            group=groups.get(int(i)) if groups is not None else None,
            copies=tuple(copies.get(int(i), ())) if copies is not None else (),
        )
        for s, i in zip(scores, ids, strict=True)
        if int(i) in records
    ]
