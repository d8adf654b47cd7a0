"""``medsearch eval --level series|study|group:FIELD``: the figures with groups as the units.

At a group level every series (study, group) is one retrieved unit, represented by its unit
mean vector, the vector level search ranks it by (:mod:`indexer.storage.group_vectors`). Its fields
are those most of its images hold (the majority value, the lowest as text on a tie), so a
series' label is its slices' majority label and its caption their most common caption. Every
task then reads as at the image level with "image" replaced by the group: text -> series
(a series' caption finds that series), series -> series (same majority label), zero-shot
classification of series, and ``--by`` per value of a group's field. ``--served`` and judged
``--queries`` name images and ANN results of the image level, so they stay there.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..errors import EvaluationInputError, InvalidRequestError
from ..records import ImageRecord, MetadataValue
from ..search.levels import IMAGE_LEVEL, level_field
from ..storage.folder import IndexFolder
from ..storage.group_files import load_groups
from .dataset import EvalIndex
from .options import EvalOptions


def check_level_options(options: EvalOptions) -> None:
    """Refuse what a group level cannot measure, before anything is read."""
    if options.level == IMAGE_LEVEL:
        return
    for given, name in ((options.served, "--served"), (options.queries, "--queries")):
        if given:
            raise EvaluationInputError(
                f"{name} measures images; it cannot be combined with --level {options.level}"
            )


def at_level(index: EvalIndex, level: str) -> EvalIndex:
    """``index`` with its groups of ``level`` as the units (itself at the image level)."""
    try:
        field = level_field(level)
    except InvalidRequestError as exc:
        raise EvaluationInputError(exc.message) from None
    if field is None:
        return index
    if field not in (index.info.group_fields or ()):
        have = ", ".join(index.info.group_fields or ()) or "none"
        raise EvaluationInputError(
            f"index {index.path} has no group vectors of the field {field!r} for --level "
            f"{level} (its group fields: {have}); index it with --group-field {field}"
        )
    table = load_groups(IndexFolder(index.path), index.info, field).table
    row_of_id = {int(image_id): row for row, image_id in enumerate(index.ids)}
    records = []
    for group in range(len(table)):
        rows = [row_of_id[int(i)] for i in table.member_ids(group) if int(i) in row_of_id]
        representative = index.records[row_of_id[int(table.representatives[group])]]
        records.append(_group_record(group + 1, representative, [index.records[r] for r in rows]))
    if len(records) < 2:
        raise EvaluationInputError(
            f"index {index.path} has {len(records)} group(s) of {field!r}; an evaluation at "
            f"--level {level} needs at least two"
        )
    ids = np.arange(1, len(records) + 1, dtype=np.int64)
    return EvalIndex(index.path, index.info, ids, records, table.vectors, index.fields)


def _group_record(
    group_id: int, representative: ImageRecord, members: Sequence[ImageRecord]
) -> ImageRecord:
    """A group as one record: its representative's file facts, its members' majority fields."""
    fields = sorted({name for member in members for name in member.extra})
    extra = {name: majority([m.extra.get(name) for m in members]) for name in fields}
    return dataclasses.replace(
        representative,
        id=group_id,
        caption=_text_or_none(majority([m.caption for m in members])),
        modality=_text_or_none(majority([m.modality for m in members])),
        extra={name: value for name, value in extra.items() if value is not None},
    )


def majority(values: Sequence[MetadataValue]) -> MetadataValue:
    """The most common value that is not None or blank (the lowest as text on a tie)."""
    counts = Counter(v for v in values if v is not None and str(v).strip())
    if not counts:
        return None
    top = max(counts.values())
    return min((v for v, n in counts.items() if n == top), key=str)


def _text_or_none(value: MetadataValue) -> str | None:
    return None if value is None else str(value)
