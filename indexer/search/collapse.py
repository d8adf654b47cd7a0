"""Collapsed search: one result per value of a metadata field (a series, a study, a case).

The ranking of images (filters, exclusions and ``min_score`` applied) is cut into groups by the
field's value, each group placed where its best image ranks. An image without the field is a
group of its own (value None, size 1), so that no image becomes unfindable by collapsing.

Which groups reach a page comes from the index's ranking: an ANN index is asked for more and
more candidates until the page's groups are found, every group of the eligible images is, or
the ranking is exhausted (then the eligible images are ranked exactly). What a page says of
each of its groups is exact: the group's eligible images are scored against the query from the
stored vectors, so its best image, its ``next`` best images and its ``matched`` count (its
images scoring at least ``min_score``; all eligible ones without it) do not depend on the
index type. With an exact index this equals a brute-force collapse of the exact ranking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .. import ann
from ..id_sets import in_sorted
from ..records import GroupSummary, MetadataValue
from ..storage.metadata_db import Store
from ..storage.vectors import VectorFile

#: next best images a collapsed result lists after its own
NEXT_SHOWN = 3
#: candidates asked for per wanted group at first; each further round asks for this many times more
CANDIDATE_GROWTH = 4

Ranking = tuple[np.ndarray, np.ndarray]


@dataclass
class RankedGroup:
    """A group's images in ranking order (ids and scores), as one ranking found them."""

    value: MetadataValue
    ids: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


def rank_groups(
    scores: np.ndarray, ids: np.ndarray, values: Mapping[int, MetadataValue]
) -> list[RankedGroup]:
    """The groups of a ranking (best first), each placed where its best image ranks; an image
    whose value is None (or unknown) forms a group of its own."""
    groups: dict[object, RankedGroup] = {}
    for score, image_id in zip(scores.tolist(), ids.tolist(), strict=True):
        value = values.get(image_id)
        key: object = ("image", image_id) if value is None else ("value", value)
        group = groups.setdefault(key, RankedGroup(value))
        group.ids.append(image_id)
        group.scores.append(score)
    return list(groups.values())


def matches(
    scores: np.ndarray, ids: np.ndarray, exclude: np.ndarray, min_score: float | None
) -> Ranking:
    """A ranking without the ``exclude``d images and those scoring under ``min_score``."""
    keep = ~np.isin(ids, exclude)
    if min_score is not None:
        keep &= scores >= min_score
    return scores[keep], ids[keep]


def collapsed_ranking(
    top: Callable[[int], Ranking],
    exact: Callable[[], Ranking],
    values_of: Callable[[np.ndarray], Mapping[int, MetadataValue]],
    *,
    wanted: int,
    eligible: int,
    exclude: np.ndarray,
    min_score: float | None,
) -> list[RankedGroup]:
    """The groups of the ranking of the :func:`matches`, grown until ``wanted`` are found.

    ``top(n)`` is the index's best ``n`` candidates among the ``eligible`` images, ``exact()``
    every eligible image ranked exactly (used once the candidates would be all of them, or the
    index finds no more).
    """
    want = CANDIDATE_GROWTH * wanted + len(exclude)
    while True:
        if want >= eligible:
            scores, ids = matches(*exact(), exclude, min_score)
            return rank_groups(scores, ids, values_of(ids))
        found_scores, found_ids = top(want)
        scores, ids = matches(found_scores, found_ids, exclude, min_score)
        groups = rank_groups(scores, ids, values_of(ids))
        # a ranking is sorted: past the score floor, no further candidate can match
        floor_reached = (
            min_score is not None and len(found_scores) > 0 and found_scores[-1] < min_score
        )
        if len(groups) >= wanted or floor_reached:
            return groups
        if len(found_ids) < want:
            want = eligible  # the ANN index finds no more: rank exactly
        else:
            want *= CANDIDATE_GROWTH


@dataclass(frozen=True)
class GroupScorer:
    """Scores a group's eligible images exactly, for what a collapsed result says of its group."""

    store: Store
    vectors: VectorFile
    field: str
    query: np.ndarray
    allowed: np.ndarray | None
    exclude: np.ndarray
    min_score: float | None

    def summaries(self, groups: list[RankedGroup]) -> list[tuple[int, float, GroupSummary]]:
        """Each group's best image, its score and its summary."""
        sizes = self.store.groups.sizes(self.field, [g.value for g in groups])
        return [self._summary(group, sizes.get(group.value, 1)) for group in groups]

    def _summary(self, group: RankedGroup, size: int) -> tuple[int, float, GroupSummary]:
        if group.value is None:
            best_id, best_score = group.ids[0], group.scores[0]
            return best_id, best_score, GroupSummary(self.field, None, 1, 1)
        listing = self.store.groups.members(self.field, group.value)
        members = np.asarray([image.id for image in listing.images], dtype=np.int64)
        members.sort()
        if self.allowed is not None:
            members = members[in_sorted(members, self.allowed)]
        members = members[~np.isin(members, self.exclude)]
        # every member is needed to count those above a score floor; else only the best few
        depth = len(members) if self.min_score is not None else NEXT_SHOWN + 1
        scores, ids = ann.exact_top_k(
            self.vectors.rows_of(members), members, self.query[None, :], depth
        )
        scores, ids = scores[0], ids[0]
        matched = len(members)
        if self.min_score is not None:
            matched = int(np.sum(scores >= self.min_score))
        shown = slice(1, NEXT_SHOWN + 1)
        following = list(zip(ids[shown].tolist(), scores[shown].tolist(), strict=True))
        if self.min_score is not None:
            following = [(i, s) for i, s in following if s >= self.min_score]
        summary = GroupSummary(self.field, group.value, size, matched, tuple(following))
        return int(ids[0]), float(scores[0]), summary
