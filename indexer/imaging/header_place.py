"""The :class:`~indexer.imaging.geometry.SlicePlace` of DICOM files on disk, from their headers.

A folder corpus has no listing of series: to group its instances the scan reads the header of
every DICOM file (pydicom with ``stop_before_pixels`` and only the tags
:func:`~indexer.imaging.geometry.slice_place` needs), never its pixel data. Reading is I/O
bound, so a few threads share it.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pydicom

from .decode import sniff_format
from .geometry import SlicePlace, slice_place

#: threads reading headers at once
HEADER_THREADS = 8
#: the tags a place is made of
PLACE_TAGS = (
    "SeriesInstanceUID",
    "StudyInstanceUID",
    "InstanceNumber",
    "ImagePositionPatient",
    "ImageOrientationPatient",
)
#: suffixes of DICOM files that may lack the 128-byte preamble and ``DICM`` marker
_DICOM_SUFFIXES = (".dcm", ".dicom")


def header_place(path: Path) -> SlicePlace | None:
    """The place of the DICOM file at ``path``; None for another file or an unreadable header."""
    try:
        with path.open("rb") as stream:
            head = stream.read(132)
            marked = sniff_format(head) == "dicom"
            if not marked and path.suffix.lower() not in _DICOM_SUFFIXES:
                return None
            stream.seek(0)
            dataset = pydicom.dcmread(
                stream, stop_before_pixels=True, specific_tags=list(PLACE_TAGS), force=not marked
            )
    except Exception:  # noqa: BLE001 - a header that cannot be read puts its file in no series
        return None
    return slice_place(dataset)


def header_places(paths: Iterable[tuple[str, Path]]) -> dict[str, SlicePlace]:
    """``{name: place}`` of every DICOM file among the ``(name, path)`` pairs."""
    pairs = list(paths)
    with ThreadPoolExecutor(max_workers=HEADER_THREADS) as pool:
        places = pool.map(header_place, [path for _, path in pairs])
        return {
            name: place for (name, _), place in zip(pairs, places, strict=True) if place is not None
        }
