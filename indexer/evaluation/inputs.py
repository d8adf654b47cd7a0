"""The inputs of one index's evaluation, read and checked before any model is loaded.

A field the user named (label, caption, group, ``--by``, judgments) must be usable, else an
:class:`~indexer.errors.EvaluationInputError` ends the run. A default field (the label and
caption fields when none is named) that an index lacks, or cannot use, is recorded with the
reason, and the tasks that need it are skipped on that index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from ..errors import EvaluationInputError
from ..search.duplicates import cluster_codes
from .dataset import EvalIndex, Judgment, captions_of, labels_of, resolve_judgments
from .options import SERIES_FIELD, EvalOptions

_T = TypeVar("_T")


class Need(Enum):
    """What a task reads from an index besides its vectors."""

    CAPTIONS = "captions"
    LABELS = "labels"
    GROUPS = "groups"
    QUERIES = "judged queries"


@dataclass(frozen=True)
class IndexInputs:
    """One index and the values an evaluation reads from it, per image row."""

    index: EvalIndex
    captions: list[str | None] | None
    labels: list[str | None] | None
    #: group code of every image (-1: none), with ``--group-field``
    groups: npt.NDArray[np.int64] | None
    #: code of every image's value of the ``--collapse`` field (-1: none)
    collapse: npt.NDArray[np.int64] | None
    #: series code of every image (-1: none), where own series are left out of image -> image
    own_series: npt.NDArray[np.int64] | None
    by_values: list[str | None] | None
    #: each judgment's image row, with ``--queries``
    judged_rows: list[int] | None
    #: why each default field is unusable here
    missing: dict[Need, str]
    #: near-duplicate cluster of every image (-1: none), with ``--exclude-duplicates``
    duplicates: npt.NDArray[np.int64] | None = None

    def has(self, need: Need) -> bool:
        present = {
            Need.CAPTIONS: self.captions,
            Need.LABELS: self.labels,
            # the leakage-free task excludes a group, near-duplicates, or both
            Need.GROUPS: self.groups if self.groups is not None else self.duplicates,
            Need.QUERIES: self.judged_rows,
        }
        return present[need] is not None


def checked_inputs(
    index: EvalIndex, options: EvalOptions, judgments: list[Judgment] | None
) -> IndexInputs:
    """Read what ``options`` asks of ``index``; a named field it lacks raises."""
    missing: dict[Need, str] = {}
    captions = _unless_default(
        lambda: captions_of(index, options.caption_field_used),
        options.caption_field is not None,
        Need.CAPTIONS,
        missing,
    )
    labels = _unless_default(
        lambda: labels_of(index, options.label_field_used),
        options.label_field is not None,
        Need.LABELS,
        missing,
    )
    groups = None
    if options.group_field:
        groups = codes(_texts(index.values(options.group_field)))
    collapse = codes(_texts(index.values(options.collapse))) if options.collapse else None
    own_series = None
    if options.exclude_own_series and SERIES_FIELD in index.fields:
        own_series = codes(_texts(index.values(SERIES_FIELD)))
    by_values = _texts(index.values(options.by)) if options.by else None
    judged_rows = None
    if judgments is not None and options.queries is not None:
        judged_rows = resolve_judgments(judgments, index, options.queries)
    duplicates = None
    if options.exclude_duplicates is not None:
        duplicates = cluster_codes(index.vectors, options.exclude_duplicates)
    return IndexInputs(
        index,
        captions,
        labels,
        groups,
        collapse,
        own_series,
        by_values,
        judged_rows,
        missing,
        duplicates,
    )


def codes(values: Sequence[str | None]) -> npt.NDArray[np.int64]:
    """Each value's position among the sorted distinct values; -1 for None."""
    distinct = {v: i for i, v in enumerate(sorted({v for v in values if v is not None}))}
    return np.array([-1 if v is None else distinct[v] for v in values], dtype=np.int64)


def _unless_default(
    read: Callable[[], _T], named: bool, need: Need, missing: dict[Need, str]
) -> _T | None:
    """``read()``; when it fails on a default field, None and the reason in ``missing``."""
    try:
        return read()
    except EvaluationInputError as exc:
        if named:
            raise
        missing[need] = str(exc)
        return None


def _texts(values: Sequence[object]) -> list[str | None]:
    return [None if v is None else str(v) for v in values]
