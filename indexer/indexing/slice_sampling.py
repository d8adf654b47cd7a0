"""Which slices of each DICOM series a run embeds, when ``--slices N`` asks for fewer than all.

A series' slices are put in order along the slice normal (then by InstanceNumber, then by
path), and :func:`sampling_order` ranks their places: the middle slice first, then the middles
of the two halves it leaves, then of the four quarters, and so on (recursive bisection, level by
level; within a level the intervals are visited in bit-reversed order, so a level taken only in
part is spread along the series rather than bunched at one end). A run keeps the first N places
of that ranking, which makes the choice

* nested: a smaller N's slices are a prefix of a larger N's, so raising N embeds only the new
  slices and lowering it removes the surplus;
* near-even: after each complete level (1, 3, 7, 15 ... slices) the slices split the series into
  equal parts, and in between no gap is more than about twice the even one.

:func:`plan_slices` applies it to every series of a corpus: what to leave out, and each
instance's ``series_slices`` (how many instances its series has in the source, whatever N is).
Grouping is by SeriesInstanceUID, in memory only; no UID is stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from ..imaging.geometry import SlicePlace
from ..records import MetadataValue

#: the metadata field of a DICOM instance that holds its series' instance count
SERIES_SLICES_FIELD = "series_slices"


def sampling_order(count: int) -> list[int]:
    """Every place ``0 .. count - 1`` of an ordered series, in the order slices are chosen."""
    order: list[int] = []
    # the intervals still to split at this depth, left to right; None where one ran out
    level: list[tuple[int, int] | None] = [(0, count - 1)] if count > 0 else []
    while any(level):
        for slot in _bit_reversed(len(level)):
            interval = level[slot]
            if interval is not None:
                order.append(_middle(interval))
        level = [half for interval in level for half in _halves(interval)]
    return order


@dataclass(frozen=True)
class SlicePlan:
    """What a run does with the DICOM series of its corpus."""

    #: paths of instances not to embed (and to remove from the index if it holds them)
    left_out: frozenset[str]
    #: path -> instances of its series in the source, for every instance of a series
    series_slices: Mapping[str, int]

    def metadata(self, relpath: str) -> dict[str, MetadataValue]:
        """The fields the plan adds to the metadata of the image at ``relpath``."""
        count = self.series_slices.get(relpath)
        return {} if count is None else {SERIES_SLICES_FIELD: count}


def plan_slices(places: Mapping[str, SlicePlace], per_series: int | None) -> SlicePlan:
    """The :class:`SlicePlan` of the instances ``places`` describes (path -> place), keeping
    ``per_series`` slices of each series (None: all of them). Instances without a series are
    not in the plan."""
    series: dict[str, list[str]] = defaultdict(list)
    for relpath, place in places.items():
        if place.series_uid:
            series[place.series_uid].append(relpath)
    left_out: set[str] = set()
    counts: dict[str, int] = {}
    for members in series.values():
        counts.update(dict.fromkeys(members, len(members)))
        if per_series is not None and len(members) > per_series:
            ordered = sorted(members, key=lambda relpath: _slice_order(relpath, places[relpath]))
            chosen = set(sampling_order(len(ordered))[:per_series])
            left_out.update(path for rank, path in enumerate(ordered) if rank not in chosen)
    return SlicePlan(frozenset(left_out), counts)


def _slice_order(relpath: str, place: SlicePlace) -> tuple[bool, float, bool, int, str]:
    """Along the slice normal, then by InstanceNumber, then by path (unknowns last)."""
    return (
        place.position is None,
        place.position or 0.0,
        place.instance_number is None,
        place.instance_number or 0,
        relpath,
    )


def _middle(interval: tuple[int, int]) -> int:
    low, high = interval
    return (low + high) // 2


def _halves(interval: tuple[int, int] | None) -> tuple[tuple[int, int] | None, ...]:
    if interval is None:
        return (None, None)
    low, high = interval
    middle = _middle(interval)
    left = (low, middle - 1) if middle > low else None
    right = (middle + 1, high) if middle < high else None
    return (left, right)


def _bit_reversed(size: int) -> list[int]:
    """``0 .. size - 1`` (a power of two) in bit-reversed order: 0, 4, 2, 6, 1, 5, 3, 7."""
    bits = max(size.bit_length() - 1, 0)
    return [int(format(slot, f"0{bits}b")[::-1], 2) if bits else 0 for slot in range(size)]
