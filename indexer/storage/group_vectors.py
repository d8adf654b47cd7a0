"""Groups of images (a series, a study, a case) and the one vector that stands for each.

A group field is a metadata field whose value names the group an image belongs to
(``series_key``, ``study_key``, or a sidecar column such as ``case``). Each group gets the
normalised mean of its images' stored vectors, the volume-level baseline of 3D retrieval, its
representative image (the one whose vector is nearest that mean, the lower id on a tie) and its
size. :class:`GroupTable` holds them for one field, groups in the order of their values' keys;
the files it is published in are :mod:`indexer.storage.group_files`.

Image ids are never reused and an image's stored vector never changes, so a group whose set of
image ids is unchanged has the same vector: :func:`group_table` recomputes only the groups whose
members differ from the previous table's (a digest of the sorted ids tells), which is what keeps
an incremental run cheap, and gives the same table a computation from scratch gives.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..records import MetadataValue

IdArray = npt.NDArray[np.int64]
#: reads the stored vectors of image ids, float32 [n, dim]
ReadVectors = Callable[[IdArray], npt.NDArray[np.float32]]


def value_key(value: MetadataValue) -> str:
    """A group's key: its value as JSON, so that ``1`` and ``"1"`` are two groups, as two
    filter values of different types are."""
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class GroupTable:
    """The groups of one field; group ``g`` (0-based) has the id ``g + 1`` in its ANN index."""

    field: str
    #: each group's value, in the order of :func:`value_key`
    values: list[MetadataValue]
    #: image ids of every group one after the other, each group's sorted
    members: IdArray
    #: images per group; group g's ids are ``members[offsets[g]:offsets[g + 1]]``
    sizes: npt.NDArray[np.int64]
    #: each group's image nearest its mean vector
    representatives: IdArray
    #: a digest of each group's sorted ids (hex), to tell which groups changed
    digests: list[str]
    #: each group's unit mean vector, float32 [groups, dim]
    vectors: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.values)

    @property
    def offsets(self) -> npt.NDArray[np.int64]:
        return np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)

    def member_ids(self, group: int) -> IdArray:
        """The image ids of group ``group`` (0-based), sorted."""
        offsets = self.offsets
        return self.members[offsets[group] : offsets[group + 1]]

    def group_of_members(self) -> IdArray:
        """For each entry of :attr:`members`, its group (0-based)."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.sizes)

    def find(self, value: MetadataValue) -> int | None:
        """The group (0-based) whose value is ``value``; a text value also finds a group whose
        value reads the same (``"7"`` finds 7, as typed on a command line); None if none."""
        key = value_key(value)
        keys = [value_key(v) for v in self.values]
        if key in keys:
            return keys.index(key)
        same_text = [g for g, v in enumerate(self.values) if str(v) == str(value)]
        return same_text[0] if len(same_text) == 1 else None


def group_table(
    field: str,
    ids: IdArray,
    values: Sequence[MetadataValue],
    read_vectors: ReadVectors,
    dim: int,
    previous: GroupTable | None = None,
) -> GroupTable:
    """The groups of the images ``ids`` whose ``field`` has ``values`` (parallel), with their
    vectors; groups whose ids equal a group's of ``previous`` reuse its vector and
    representative instead of reading their images' vectors again."""
    by_key: dict[str, list[int]] = {}
    value_of: dict[str, MetadataValue] = {}
    for image_id, value in zip(ids.tolist(), values, strict=True):
        key = value_key(value)
        by_key.setdefault(key, []).append(image_id)
        value_of[key] = value
    keys = sorted(by_key)
    known = _previous_groups(previous)
    members, sizes, representatives, digests = [], [], [], []
    vectors = np.zeros((len(keys), dim), dtype=np.float32)
    for group, key in enumerate(keys):
        group_ids = np.sort(np.asarray(by_key[key], dtype=np.int64))
        digest = hashlib.blake2b(group_ids.tobytes(), digest_size=16).hexdigest()
        kept = known.get((key, digest))
        if kept is not None:
            vectors[group], representative = kept
        else:
            vectors[group], representative = mean_and_representative(
                group_ids, read_vectors(group_ids)
            )
        members.append(group_ids)
        sizes.append(len(group_ids))
        representatives.append(representative)
        digests.append(digest)
    return GroupTable(
        field=field,
        values=[value_of[key] for key in keys],
        members=np.concatenate(members) if members else np.zeros(0, dtype=np.int64),
        sizes=np.asarray(sizes, dtype=np.int64),
        representatives=np.asarray(representatives, dtype=np.int64),
        digests=digests,
        vectors=vectors,
    )


def mean_and_representative(
    ids: IdArray, vectors: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float32], int]:
    """The unit mean of ``vectors`` (rows of ``ids``) and the id nearest it (lowest on a tie)."""
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    norm = np.linalg.norm(mean)
    unit = (mean / norm if norm > 0 else mean).astype(np.float32)
    scores = np.asarray(vectors, dtype=np.float32) @ unit
    # ids are sorted: argmax takes the first, the lowest id, of equal scores
    return unit, int(ids[int(np.argmax(scores))])


def _previous_groups(
    previous: GroupTable | None,
) -> dict[tuple[str, str], tuple[npt.NDArray[np.float32], int]]:
    if previous is None:
        return {}
    return {
        (value_key(value), digest): (previous.vectors[g], int(previous.representatives[g]))
        for g, (value, digest) in enumerate(zip(previous.values, previous.digests, strict=True))
    }
