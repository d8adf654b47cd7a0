"""Decode a DICOM's JPEG 2000 frame at a lower resolution level.

A JPEG 2000 codestream holds the image as wavelet levels: the image at 1/2, 1/4 ... of its size
can be decoded without the finer levels, much faster than the whole image (docs/benchmarks.md,
fourth round). Indexing and thumbnails need far fewer pixels than large radiographs have, so
:func:`reduced_jpeg2000_frame` decodes such frames at the smallest level that still has the size
asked for. It handles plain grey unsigned data only; for anything else (colour, signed values,
other codecs) it returns None and pydicom decodes the whole frame.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.uid import JPEG2000, JPEG2000Lossless

JPEG2000_SYNTAXES = frozenset({JPEG2000, JPEG2000Lossless})

_START_AND_SIZE_MARKERS = b"\xff\x4f\xff\x51"  # SOC, then SIZ, which a codestream must start with
_CODING_STYLE_MARKER = 0xFF52  # COD
_BITS_OF_MODE = {"L": 8, "I;16": 16}


@dataclass(frozen=True)
class _Codestream:
    precision: int  # bits per sample of the first component
    signed: bool
    levels: int  # wavelet decompositions: the frame can be decoded at 1/2 ** levels of its size


def reduced_jpeg2000_frame(
    dataset: Dataset, frame: int, frames: int, min_side: int
) -> np.ndarray | None:
    """Stored values of ``frame`` (of ``frames``) at the smallest level with sides >= ``min_side``.

    Returns None when the full size is the only such level, or when the frame is not plain grey
    unsigned JPEG 2000 or fails to decode at a lower level; the caller then decodes it whole.
    The values are on the stored scale, as pydicom's full decode gives them.
    """
    if not _qualifies(dataset):
        return None
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    wanted = max(0, (min(rows, columns) // max(min_side, 1)).bit_length() - 1)
    if wanted < 1:
        return None
    try:
        codestream = get_frame(dataset.PixelData, frame, number_of_frames=frames)
    except (ValueError, TypeError, IndexError, KeyError):
        return None  # broken encapsulation: pydicom's full decode reports it
    header = _read_header(codestream)
    if header is None or header.signed or not 0 < header.precision <= 16:
        return None
    # some encoders' streams refuse the deepest levels they declare; fall back level by level
    for reduce in range(min(wanted, header.levels), 0, -1):
        values = _decode(codestream, reduce, header.precision)
        expected = (-(-rows >> reduce), -(-columns >> reduce))  # sides rounded up
        if values is not None and values.shape == expected:
            return values
    return None


def _qualifies(dataset: Dataset) -> bool:
    file_meta = getattr(dataset, "file_meta", None)
    syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    try:
        return (
            syntax in JPEG2000_SYNTAXES
            and "PixelData" in dataset
            and int(dataset.get("SamplesPerPixel") or 1) == 1
            and int(dataset.get("PixelRepresentation") or 0) == 0
            and int(dataset.get("BitsAllocated") or 0) in (8, 16)
        )
    except (TypeError, ValueError):  # malformed values: left to pydicom's full decode
        return False


def _decode(codestream: bytes, reduce: int, precision: int) -> np.ndarray | None:
    try:
        with Image.open(io.BytesIO(codestream), formats=["JPEG2000"]) as image:
            image.reduce = reduce  # a Jpeg2KImageFile setting: decode at 1/2 ** reduce
            image.load()
            bits = _BITS_OF_MODE.get(image.mode)
            if bits is None or precision > bits:
                return None
            # Pillow scales samples up to the full width of its mode; back to stored values
            return np.right_shift(np.asarray(image), bits - precision)
    except (OSError, ValueError, SyntaxError, struct.error):
        return None


def _read_header(codestream: bytes) -> _Codestream | None:
    """Precision and sign (SIZ) and decomposition levels (COD) from the main header."""
    try:
        if codestream[:4] != _START_AND_SIZE_MARKERS:
            return None
        (size_length,) = struct.unpack_from(">H", codestream, 4)
        component = codestream[42]  # Ssiz of the first component, after the fixed SIZ fields
        position = 4 + size_length
        while True:  # marker segments up to COD, which the main header must carry
            marker, length = struct.unpack_from(">HH", codestream, position)
            if marker == _CODING_STYLE_MARKER:
                levels = codestream[position + 9]  # after Scod, order, layers and transform
                return _Codestream((component & 0x7F) + 1, bool(component & 0x80), levels)
            if marker >> 8 != 0xFF or length < 2:
                return None
            position += 2 + length
    except (IndexError, struct.error):
        return None
