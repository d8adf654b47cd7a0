"""Sequential JPEG frames whose scan header breaks the standard in a way that loses nothing.

Some scanners (GE among them) write JPEG Baseline/Extended frames whose start-of-scan segment
carries spectral selection values other than 0..63, which only progressive JPEG uses. libjpeg
refuses such a frame ("scan start must be zero and scan stop must be 63"), while DCMTK ignores the
values with a warning: in a sequential frame they have no meaning. :func:`repaired_frame` sets
them to what the standard requires and decodes the frame again; a frame that fails for any other
reason is left to the usual error.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.uid import JPEGBaseline8Bit, JPEGExtended12Bit

_SEQUENTIAL_SYNTAXES = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit})
#: start-of-frame markers of the sequential DCT processes (baseline, extended)
_SEQUENTIAL_FRAMES = frozenset({0xC0, 0xC1})
_START_OF_SCAN = 0xDA
_START_OF_IMAGE = 0xD8
_END_OF_IMAGE = 0xD9


def repaired_frame(dataset: Dataset, frame: int, frames: int) -> np.ndarray | None:
    """Frame ``frame`` decoded after its scan headers were made sequential, or None when the
    dataset is not sequential JPEG or the frame needed no repair."""
    syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
    if syntax not in _SEQUENTIAL_SYNTAXES or "PixelData" not in dataset:
        return None
    stream = get_frame(dataset.PixelData, frame, number_of_frames=frames)
    repaired = sequential_scans(stream)
    if repaired is None:
        return None
    from libjpeg import decode  # the decoder plugin pydicom itself uses for these syntaxes

    return np.asarray(decode(repaired))


def sequential_scans(stream: bytes) -> bytes | None:
    """``stream`` with every scan header of a sequential frame set to Ss=0, Se=63, Ah=Al=0;
    None when the stream is not a sequential JPEG or already conforms."""
    data = bytearray(stream)
    if data[:2] != bytes((0xFF, _START_OF_IMAGE)):
        return None
    sequential = False
    changed = False
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == _END_OF_IMAGE:
            break
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _SEQUENTIAL_FRAMES:
            sequential = True
        if marker == _START_OF_SCAN:
            if not sequential:
                return None
            components = data[at + 4]
            selection = at + 5 + 2 * components
            if data[selection : selection + 3] != b"\x00\x3f\x00":
                data[selection : selection + 3] = b"\x00\x3f\x00"
                changed = True
            at = _after_entropy_coded_data(data, at + 2 + length)
            continue
        at += 2 + length
    return bytes(data) if sequential and changed else None


def _after_entropy_coded_data(data: bytearray, at: int) -> int:
    """Offset of the first marker after a scan's entropy-coded data (restart markers and
    stuffed zero bytes belong to the data)."""
    while at + 1 < len(data):
        if data[at] == 0xFF and data[at + 1] != 0x00 and not 0xD0 <= data[at + 1] <= 0xD7:
            return at
        at += 1
    return len(data)
