"""Search at the level of series, studies or any group field: one result per group.

``level=series`` ranks the series of an index by the cosine of the query with each series' unit
mean vector (``series_key``'s group vectors, :mod:`indexer.storage.group_vectors`); ``study``
does the same with ``study_key``, and ``group:FIELD`` with any group field of the index
(``group:case``). Each result is a hit for the group's representative image, scored by the
group's cosine, with the group's size, how many of its images match, and its best matching
images other than the representative. A filter keeps a group when any of its images matches
it; ``matched`` and the next images count only those. "Similar series" is a query by a group's
own vector (:func:`rank_groups` with ``first``): that group comes first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import ann
from ..errors import InvalidRequestError, NotFoundError
from ..id_sets import in_sorted
from ..records import GroupSummary, Hit, ImageRecord, MetadataValue
from ..storage.group_files import PublishedGroups
from ..storage.group_vectors import value_key

IMAGE_LEVEL = "image"
#: the levels named after the DICOM group keys, and their fields
LEVEL_FIELDS = {"series": "series_key", "study": "study_key"}
#: ``group:FIELD`` searches the groups of any group field
GROUP_LEVEL_PREFIX = "group:"
#: next best images named per group result
NEXT_IMAGES = 3

IdArray = npt.NDArray[np.int64]


def levels_of(group_fields: Sequence[str]) -> tuple[str, ...]:
    """The levels an index with ``group_fields`` answers: image, series and study where it has
    their keys' vectors, and ``group:FIELD`` for each group field."""
    named = [level for level, field in LEVEL_FIELDS.items() if field in group_fields]
    return (IMAGE_LEVEL, *named, *(GROUP_LEVEL_PREFIX + field for field in group_fields))


def level_field(level: str) -> str | None:
    """The group field a level searches (None for ``image``)."""
    if level == IMAGE_LEVEL:
        return None
    if level in LEVEL_FIELDS:
        return LEVEL_FIELDS[level]
    field = level.removeprefix(GROUP_LEVEL_PREFIX)
    if level.startswith(GROUP_LEVEL_PREFIX) and field:
        return field
    raise InvalidRequestError(f"level must be image, series, study or group:FIELD, not {level!r}")


def groups_of_level(groups: Mapping[str, PublishedGroups], level: str) -> PublishedGroups:
    """The published groups ``level`` searches; a level the index has no vectors for is a
    request this index cannot answer."""
    field = level_field(level)
    if field is None:
        raise InvalidRequestError(
            "a group is searched at a group level: series, study or group:FIELD"
        )
    if field not in groups:
        have = ", ".join(sorted(groups)) or "none"
        raise InvalidRequestError(
            f"level {level} needs group vectors of the field {field!r}, which this index does "
            f"not have (its group fields: {have}); DICOM series and studies get them when "
            "indexed, other fields with `medsearch index --group-field FIELD`"
        )
    return groups[field]


def group_number(published: PublishedGroups, value: MetadataValue) -> int:
    """The group (0-based) whose value is ``value``; 404 when there is none."""
    found = published.table.find(value)
    if found is None:
        raise NotFoundError(f"no group with {published.table.field} = {value!r}")
    return found


@dataclass(frozen=True)
class GroupRequest:
    """What a level search asks for, beyond the query vector."""

    k: int
    offset: int
    #: image ids the filters allow (None: no filter)
    allowed: IdArray | None
    min_score: float | None
    #: the group (0-based) put first: "similar series" of that series
    first: int | None = None


def allowed_groups(published: PublishedGroups, allowed_images: IdArray | None) -> IdArray | None:
    """The groups (0-based) with at least one allowed image; None when all are allowed."""
    if allowed_images is None:
        return None
    table = published.table
    hit = in_sorted(table.members, allowed_images)
    return np.unique(table.group_of_members()[hit])


def rank_groups(
    published: PublishedGroups, query: npt.NDArray[np.float32], request: GroupRequest
) -> tuple[list[tuple[int, float]], int]:
    """The page of (group, score), best first, and how many groups the filters allow."""
    eligible = allowed_groups(published, request.allowed)
    total = len(published.table) if eligible is None else len(eligible)
    want = request.k + request.offset + 1
    scores, groups = _top_groups(published, query, want, eligible)
    ranked = [(int(g), float(s)) for g, s in zip(groups, scores, strict=True)]
    if request.first is not None and (eligible is None or request.first in eligible):
        own = float(published.table.vectors[request.first] @ query)
        ranked = [(request.first, own)] + [r for r in ranked if r[0] != request.first]
    if request.min_score is not None:
        ranked = [r for r in ranked if r[1] >= request.min_score]
    return ranked[request.offset : request.offset + request.k], total


def collapse_groups(
    published: PublishedGroups,
    query: npt.NDArray[np.float32],
    request: GroupRequest,
    values_of: Callable[[list[int]], dict[int, MetadataValue]],
) -> tuple[list[tuple[int, float]], int]:
    """Like :func:`rank_groups`, keeping only the best group per value of a field of the
    groups' representative images (``values_of``; an image without it is a value of its own):
    "the best series of each study". The count is of the values."""
    every = dataclasses.replace(request, k=len(published.table), offset=0)
    ranked, _ = rank_groups(published, query, every)
    representatives = [int(published.table.representatives[g]) for g, _ in ranked]
    values = values_of(representatives)
    seen: set[str] = set()
    kept = []
    for (group, score), image in zip(ranked, representatives, strict=True):
        value = values.get(image)
        key = f"image:{image}" if value is None else value_key(value)
        if key not in seen:
            seen.add(key)
            kept.append((group, score))
    return kept[request.offset : request.offset + request.k], len(kept)


def _top_groups(
    published: PublishedGroups,
    query: npt.NDArray[np.float32],
    want: int,
    eligible: IdArray | None,
) -> tuple[npt.NDArray[np.float32], IdArray]:
    """The best ``want`` groups (0-based) by cosine: exact over the eligible groups' vectors
    under a filter, from the groups' ANN index without one."""
    if eligible is not None:
        if len(eligible) == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        rows = published.table.vectors[eligible]
        scores, found = ann.exact_top_k(rows, eligible, query[None, :], want)
        return scores[0], found[0]
    scores, ids = published.index.search(query[None, :], want)
    kept = ids[0] >= 0
    return scores[0][kept], ids[0][kept] - 1


def group_hits(
    published: PublishedGroups,
    ranked: Sequence[tuple[int, float]],
    query: npt.NDArray[np.float32],
    request: GroupRequest,
    records: Callable[[list[int]], dict[int, ImageRecord]],
    image_vectors: Callable[[IdArray], npt.NDArray[np.float32]],
) -> list[Hit]:
    """A hit per ranked group: its representative image, the group's score, and the group."""
    table = published.table
    representatives = [int(table.representatives[g]) for g, _ in ranked]
    found = records(representatives)
    hits = []
    for (group, score), representative in zip(ranked, representatives, strict=True):
        record = found.get(representative)
        if record is None:  # pruned since the version was published
            continue
        hits.append(
            Hit(
                id=representative,
                score=score,
                path=record.path,
                caption=record.caption,
                metadata=record.metadata(),
                group=_summary(published, group, representative, query, request, image_vectors),
            )
        )
    return hits


def _summary(
    published: PublishedGroups,
    group: int,
    representative: int,
    query: npt.NDArray[np.float32],
    request: GroupRequest,
    image_vectors: Callable[[IdArray], npt.NDArray[np.float32]],
) -> GroupSummary:
    """The group's size, its matching images and the best of them besides the representative."""
    table = published.table
    members = table.member_ids(group)
    if request.allowed is not None:
        members = members[in_sorted(members, request.allowed)]
    scores = image_vectors(members) @ query if len(members) else np.zeros(0, np.float32)
    if request.min_score is not None:
        keep = scores >= request.min_score
        members, scores = members[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")
    best = [(int(members[i]), float(scores[i])) for i in order if members[i] != representative]
    return GroupSummary(
        field=table.field,
        value=table.values[group],
        size=int(table.sizes[group]),
        matched=len(members),
        next=tuple(best[:NEXT_IMAGES]),
    )
