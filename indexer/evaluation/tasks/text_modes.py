"""Text to image by keyword and hybrid ranking (``medsearch eval --mode``), beside the dense one.

Each caption asks for its own image (and, with groups, its group's images), as in
:mod:`.text_to_image`, but ranked as ``mode=keyword`` (BM25 over the words of every image) or
``mode=hybrid`` (that ranking fused with the exact dense one by reciprocal rank fusion, each
contributing its first :data:`~indexer.search.keywords.HYBRID_DEPTH` candidates) ranks it
(:mod:`indexer.search.keywords`).

A caption would find its own image by its own words in keyword mode, so the query image's own
caption is left out of the words searched for its query: the image is still found by its other
text fields (modality, label ...), and by every other image's caption. The dense ranking never
sees captions, so the modes compare alike. The words live in an in-memory FTS5 table built like
the index's own (:mod:`indexer.storage.keyword_index`), its row ids the images' rows; a query's
own row is rewritten without the caption for its query, then restored. An image ranked by
neither list is not found (rank infinite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from ...errors import EvaluationInputError
from ...records import ImageRecord
from ...search.keywords import HYBRID_DEPTH, fuse
from ...search.modes import DENSE, HYBRID, KEYWORD, MODES
from ...storage import keyword_index
from .. import metrics, scoring
from ..context import TaskContext
from ..inputs import Need
from ..options import EvalOptions
from ..scoring import Progress
from .base import PerQueryScores, Task

#: one query's ranking of image rows, best first, from its caption's row and vector
RankRows = Callable[[Connection, list[str], npt.NDArray[np.float32]], npt.NDArray[np.int64]]


def check_modes(options: EvalOptions) -> None:
    """Refuse modes this MedSearch lacks, and keyword or hybrid with groups as the units."""
    unknown = [mode for mode in options.modes if mode not in MODES]
    if unknown or not options.modes:
        raise EvaluationInputError(
            f"--mode takes {', '.join(MODES)} (comma-separated), not {','.join(unknown)!r}"
        )
    if set(options.modes) - {DENSE} and (options.collapse or options.level != "image"):
        raise EvaluationInputError(
            "--mode keyword and hybrid rank images: not with --collapse or a group --level"
        )


def words_of(
    row: int, record: ImageRecord, caption_field: str, *, with_caption: bool
) -> keyword_index.Words:
    """What the keyword index holds of the image in ``row``, its caption field left out unless
    asked."""
    extra = dict(record.extra)
    caption = record.caption
    if not with_caption:
        if caption_field == "caption":
            caption = None
        else:
            extra.pop(caption_field, None)
    return row, caption, record.modality, extra


@contextmanager
def words_table(records: list[ImageRecord], caption_field: str) -> Iterator[Connection]:
    """An in-memory FTS5 table of every image's words, row ids the image rows."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            connection.execute(text(keyword_index.CREATE))
            keyword_index.add_rows(
                connection,
                (
                    words_of(row, record, caption_field, with_caption=True)
                    for row, record in enumerate(records)
                ),
            )
            yield connection
    finally:
        engine.dispose()


def first_ranks(context: TaskContext, rank_rows: RankRows, progress: Progress) -> PerQueryScores:
    """The first relevant rank of every caption's query, ranked by ``rank_rows``."""
    captions = context.captions
    assert captions is not None
    records = context.index.records
    field = context.options.caption_field_used
    relevance = scoring.same_image(captions.rows, context.all_rows, context.groups)
    ranks = np.full(len(captions.rows), np.inf)
    with words_table(records, field) as connection:
        for q, row in enumerate(captions.rows.tolist()):
            own = words_of(row, records[row], field, with_caption=False)
            keyword_index.replace_rows(connection, [own])
            ranked = rank_rows(
                connection, keyword_index.query_terms(captions.texts[q]), captions.vectors[q]
            )
            restored = words_of(row, records[row], field, with_caption=True)
            keyword_index.replace_rows(connection, [restored])
            relevant = relevance(np.array([q]))[0][0]
            ranks[q] = metrics.first_relevant_rank(relevant[ranked][None, :])[0]
            progress(1)
    return PerQueryScores(scoring.cross_modal(ranks), captions.rows)


def keyword(context: TaskContext, progress: Progress) -> PerQueryScores:
    def rank_rows(
        connection: Connection, terms: list[str], _: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.int64]:
        return keyword_index.ranking(connection, terms)[1]

    return first_ranks(context, rank_rows, progress)


def hybrid(context: TaskContext, progress: Progress) -> PerQueryScores:
    vectors = context.index.vectors

    def rank_rows(
        connection: Connection, terms: list[str], query: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.int64]:
        dense = np.argsort(-(vectors @ query), kind="stable")[:HYBRID_DEPTH]
        words = keyword_index.ranking(connection, terms, limit=HYBRID_DEPTH)[1]
        return fuse([dense.astype(np.int64), words])[1]

    return first_ranks(context, rank_rows, progress)


def _task(mode: str, exact: Callable[[TaskContext, Progress], PerQueryScores]) -> Task:
    return Task(
        name=f"text_to_image_{mode}",
        title=f"text -> image ({mode})",
        short=f"text→image {mode}",
        needs=frozenset({Need.CAPTIONS}),
        exact=exact,
        chart="recall",
        chart_figures=tuple(f"R@{k}" for k in scoring.RECALL_KS),
        mode=mode,
    )


KEYWORD_TASK = _task(KEYWORD, keyword)
HYBRID_TASK = _task(HYBRID, hybrid)
