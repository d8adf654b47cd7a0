"""Cut-offs that adapt to the query and the index, and each result's standing against the null.

A raw ``min_score`` means different things for different models, indexes and queries. Two
cut-offs adapt:

- ``min_relative`` ``r`` (0 to 1) keeps the results scoring at least ``top - (1 - r) * |top|``,
  ``top`` the best score of the query's eligible results (filters and exclusions applied, paging
  not): that is ``r * top`` for a positive top, and the top result always stays;
- ``min_z`` keeps the results whose ``z`` against the index's null distribution (the scores
  unrelated queries of the query's kind get, :mod:`indexer.storage.null_scores`) is at least
  ``min_z``: a score of at least ``mean + min_z * sd`` of that null.

Each becomes a score floor, and the highest floor of those given (``min_score`` included) cuts the
ranking, so totals, facets under a score, collapse and group levels follow as they do for
``min_score``. An index published before null distributions existed has none: its results carry
no ``z`` and ``min_z`` is refused (:class:`~indexer.errors.InvalidRequestError`), rather than
silently returning what the cut-off was asked to remove.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import InvalidRequestError
from ..records import Hit
from ..storage.null_scores import NullSample, NullScores

#: Slack under a floor made from the best score: the same vectors scored as part of different
#: sets of rows (the ANN index, an exact pass) differ in the last float32 bits, and the best
#: result must not fall under a floor made from its own score.
SCORE_ROUNDING = 1e-6


@dataclass(frozen=True)
class CutOff:
    """The score cut-offs of one search; None: not asked for."""

    min_score: float | None = None
    min_relative: float | None = None
    min_z: float | None = None

    def floor(
        self, best_score: Callable[[], float | None], null: NullSample | None
    ) -> float | None:
        """The lowest score a result may have: the highest of the floors asked for.

        ``best_score`` gives the query's best eligible score (None: no result); it is called
        only for ``min_relative``."""
        floors = [] if self.min_score is None else [self.min_score]
        if self.min_relative is not None:
            if not 0.0 <= self.min_relative <= 1.0:
                raise InvalidRequestError("min_relative must be between 0 and 1")
            top = best_score()
            if top is not None:
                relative = top - (1.0 - self.min_relative) * abs(top)
                floors.append(relative - SCORE_ROUNDING)
        if self.min_z is not None:
            if null is None or not null.usable:
                raise InvalidRequestError(
                    "min_z needs the index's null distribution of scores, which this index does "
                    "not record for this kind of query; run `medsearch index` again to measure "
                    "it, or use min_relative or min_score"
                )
            floors.append(null.score_at_z(self.min_z))
        return max(floors) if floors else None

    @property
    def given(self) -> bool:
        return (self.min_score, self.min_relative, self.min_z) != (None, None, None)


def null_for(null_scores: NullScores | None, query_kind: str) -> NullSample | None:
    """The null sample a query of ``query_kind`` is judged by on an index (None: none)."""
    return null_scores.for_query(query_kind) if null_scores is not None else None


def query_kind(**queries: object) -> str:
    """The name of the one query given (``text=..., image=None, ...`` -> ``"text"``)."""
    given = [name for name, value in queries.items() if value is not None]
    return given[0] if len(given) == 1 else ""


def with_standing(hits: Sequence[Hit], null: NullSample | None) -> list[Hit]:
    """The hits with their ``z`` and ``percentile`` against ``null`` (unchanged without one)."""
    if null is None or not len(null.scores):
        return list(hits)
    return [
        dataclasses.replace(hit, z=null.z(hit.score), percentile=null.percentile(hit.score))
        for hit in hits
    ]


def cut_count(cut: CutOff, *, k: int, offset: int, available: int, shown: int) -> int | None:
    """How many results of the page the cut-off removed: the page would have held
    ``min(k, available - offset)`` results of the ``available`` ones without it; None when no
    cut-off was asked for."""
    if not cut.given:
        return None
    return max(0, min(k, available - offset) - shown)
