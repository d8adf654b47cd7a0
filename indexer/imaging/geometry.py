"""Where a DICOM instance sits: its series and study, and its place among the series' slices.

:func:`slice_place` reads what is needed to group instances into series and studies and to put
a series' slices in order, from a header alone (no pixel data). The UIDs it returns are
identifiers: callers turn them into keyed hashes before anything is stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset


@dataclass(frozen=True)
class SlicePlace:
    """The series, study and slice position of one instance (UIDs are never stored as is)."""

    series_uid: str | None
    study_uid: str | None
    instance_number: int | None
    #: millimetres along the slice normal (None without a usable position and orientation)
    position: float | None


def slice_place(dataset: Dataset) -> SlicePlace:
    """The :class:`SlicePlace` of ``dataset`` (a full dataset or a header read without pixels)."""
    return SlicePlace(
        series_uid=_uid(dataset.get("SeriesInstanceUID")),
        study_uid=_uid(dataset.get("StudyInstanceUID")),
        instance_number=_integer(dataset.get("InstanceNumber")),
        position=slice_position(
            dataset.get("ImagePositionPatient"), dataset.get("ImageOrientationPatient")
        ),
    )


def slice_position(position: Any, orientation: Any) -> float | None:
    """Distance along the slice normal: ImagePositionPatient projected on the cross product of
    the two ImageOrientationPatient direction cosines (the order a viewer stacks slices in)."""
    origin = _numbers(position, 3)
    cosines = _numbers(orientation, 6)
    if origin is None or cosines is None:
        return None
    normal = np.cross(cosines[:3], cosines[3:])
    length = float(np.linalg.norm(normal))
    if length < 1e-6:
        return None
    return round(float(np.dot(origin, normal / length)), 4)


def _numbers(value: Any, count: int) -> np.ndarray | None:
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        numbers = [float(part) for part in value]
    except (TypeError, ValueError):
        return None
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        return None
    return np.asarray(numbers, dtype=np.float64)


def _uid(value: Any) -> str | None:
    text = str(value or "").strip().strip("\x00").strip()
    return text or None


def _integer(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
