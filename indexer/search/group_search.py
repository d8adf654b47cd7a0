"""Search at a group level (series, study, group:FIELD): groups ranked by their mean vectors.

A :class:`GroupSearch` embeds the query (or takes a group's own vector: the groups most similar
to it, itself first), cuts as :mod:`indexer.search.cutoff` says, and ranks the published groups
of the level (:mod:`indexer.search.levels`); with ``collapse`` it keeps the best group per value
of that field ("the best series of each study").
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidRequestError
from ..records import MetadataValue, SearchResult
from ..storage.filters import Filters
from ..storage.metadata_db import Store
from ..storage.null_scores import NullSample
from . import levels
from .cutoff import CutOff, cut_count, with_standing
from .snapshot import Snapshot


@dataclass(frozen=True)
class GroupSearch:
    """What a group level search needs: the store, the published version, how queries become
    vectors, the cut-offs asked for and the null the results stand against."""

    store: Store
    snapshot: Snapshot
    embed: Callable[..., np.ndarray]
    cut: CutOff
    null: NullSample | None

    def run(
        self,
        level: str,
        group: MetadataValue,
        queries: dict[str, Any],
        request: levels.GroupRequest,
        filters: Filters | None,
        started: float,
        collapse: str | None,
    ) -> SearchResult:
        """The groups of ``level`` best matching the query, or ``group``'s own vector; with
        ``collapse``, the best group per value of that field of their representative images."""
        snapshot, store, cut, null = self.snapshot, self.store, self.cut, self.null
        published = levels.groups_of_level(snapshot.groups, level)
        if group is None:
            query = self.embed(**queries)
        else:
            given = [name for name, value in queries.items() if value is not None]
            if given:
                raise InvalidRequestError(
                    f"give exactly one of text, image, image_id, vector, group, not "
                    f"{' and '.join(given)} and group"
                )
            first = levels.group_number(published, group)
            request = dataclasses.replace(request, first=first)
            query = published.table.vectors[first]
        embedded = time.perf_counter()

        def best_score() -> float | None:
            top = dataclasses.replace(request, k=1, offset=0)
            first, _ = levels.rank_groups(published, query, top)
            return first[0][1] if first else None

        request = dataclasses.replace(request, min_score=cut.floor(best_score, null))
        if collapse is None:
            ranked, total = levels.rank_groups(published, query, request)
        else:

            def values_of(ids: list[int]) -> dict[int, MetadataValue]:
                return store.groups.values_of(collapse, ids)

            ranked, total = levels.collapse_groups(published, query, request, values_of)
        hits = levels.group_hits(
            published, ranked, query, request, store.get_many, snapshot.vectors.read
        )
        suggestions = store.case_variants(filters) if filters and not total else {}
        below = cut_count(cut, k=request.k, offset=request.offset, available=total, shown=len(hits))
        return SearchResult(
            with_standing(hits, null),
            total,
            timings_since(started, embedded),
            suggestions,
            None,
            below,
        )


def timings_since(started: float, embedded: float) -> dict[str, float]:
    """Milliseconds spent embedding, searching, and in all, of a search that ends now."""
    finished = time.perf_counter()
    return {
        "embed": (embedded - started) * 1000,
        "search": (finished - embedded) * 1000,
        "total": (finished - started) * 1000,
    }
