"""DICOM pixel rendering and safe (non-identifying) tag extraction.

:func:`read_dicom` turns a DICOM file into an 8-bit RGB image the way a viewer shows it by
default: modality LUT / rescale, then the first VOI LUT or window (or the image's own min/max
when there is none), MONOCHROME1 inverted, palette colour expanded, the middle frame of a
multi-frame object. Only the tags listed in :data:`SAFE_TAGS` are ever returned as metadata:
an allowlist, so no patient, institution, date or UID value can leak into an index. The free-text
:data:`DESCRIPTION_TAGS` (which DICOM's de-identification profile removes) are returned only when
asked for. ``burned_in_annotation`` says whether the pixels may show patient data (see
:func:`burned_in_annotation`).

The pixel helpers :func:`scale_to_uint8` and :func:`decoder_warnings_suppressed` are shared
with :mod:`indexer.imaging.decode`.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, pixel_array
from pydicom.uid import UID

from ..errors import UnreadableImageError
from ..records import MetadataValue
from ..sizes import DEFAULT_MAX_PIXELS
from .case_keys import CaseKeys, place_fields
from .geometry import slice_place
from .jpeg2000 import reduced_jpeg2000_frame
from .jpeg_scan import repaired_frame

#: DICOM keyword -> stored field name. Nothing outside this allowlist is ever returned.
#: Manufacturer, station and institution fields are left out on purpose: they can narrow an
#: image down to a site. Several keywords may feed one field; the first non-empty one wins.
SAFE_TAGS: Mapping[str, str] = MappingProxyType(
    {
        "Modality": "modality",
        "BodyPartExamined": "body_part",
        "ViewPosition": "view_position",
        "Laterality": "laterality",
        "ImageLaterality": "laterality",
        "PhotometricInterpretation": "photometric_interpretation",
        "Rows": "rows",
        "Columns": "columns",
        "NumberOfFrames": "number_of_frames",
        "BitsStored": "bits_stored",
        "PixelSpacing": "pixel_spacing",
        "SliceThickness": "slice_thickness",
        # read from the file meta group and stored by name ("JPEG 2000 Image Compression")
        "TransferSyntaxUID": "transfer_syntax",
    }
)

#: free text often carrying names, dates and identifiers (PS3.15 Table E.1-1 removes both):
#: stored only when a site knows its descriptions are clean
DESCRIPTION_TAGS: Mapping[str, str] = MappingProxyType(
    {"SeriesDescription": "series_description", "StudyDescription": "study_description"}
)

#: modalities whose images commonly carry text burned into the pixels (ultrasound, secondary
#: capture, angiography, endoscopy, photographs, scanned documents ...)
BURNED_IN_MODALITIES = frozenset(
    {"US", "IVUS", "SC", "OT", "XA", "RF", "ES", "XC", "GM", "SM", "DOC", "OP", "ECG"}
)

_PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_UNDEFINED_LENGTH = 0xFFFFFFFF


@contextmanager
def decoder_warnings_suppressed() -> Iterator[None]:
    """Silence the UserWarnings/RuntimeWarnings decoders emit about odd files, for one block.

    Decoding either succeeds or raises :class:`UnreadableImageError`; the warnings pydicom,
    Pillow (including ``DecompressionBombWarning``, replaced by an explicit size check) and
    numpy give on the way are noise. DeprecationWarnings still pass.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def scale_to_uint8(
    values: np.ndarray, low: float | None = None, high: float | None = None
) -> np.ndarray:
    """Map ``low..high`` (default: the finite min/max of ``values``) linearly onto 0..255.

    Values outside the range are clipped, non-finite values become 0, and a flat image (no
    range) becomes all 0.
    """
    data = values.astype(np.float64, copy=False)
    finite = np.isfinite(data)
    if low is None or high is None:
        if not finite.any():
            return np.zeros(data.shape, dtype=np.uint8)
        low = float(data[finite].min()) if low is None else low
        high = float(data[finite].max()) if high is None else high
    if not high > low:
        return np.zeros(data.shape, dtype=np.uint8)
    scaled = (data - low) * (255.0 / (high - low))
    scaled = np.where(finite, scaled, 0.0)
    return np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)


def read_dicom(
    source: Path | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int | None = None,
    descriptions: bool = False,
    case_keys: CaseKeys | None = None,
) -> tuple[Image.Image, dict[str, MetadataValue]]:
    """Render a DICOM file (path or bytes) to an RGB image and return its safe metadata.

    ``min_side``: the image may come back reduced by a power of two while its shortest side
    stays at least this long (large JPEG 2000 frames, decoded at a lower resolution level).
    ``descriptions``: also return the :data:`DESCRIPTION_TAGS`. ``case_keys``: also return the
    instance's series and study keys (see :func:`extract_metadata`).

    Raises :class:`UnreadableImageError` with reason ``not_image``, ``truncated``,
    ``no_pixel_data``, ``too_large``, ``unsupported`` or ``corrupt``.
    """
    with decoder_warnings_suppressed():
        dataset = _read_dataset(source)
        try:
            metadata = extract_metadata(dataset, descriptions=descriptions, case_keys=case_keys)
            image = _render(dataset, max_pixels, min_side)
        except UnreadableImageError:
            raise
        except MemoryError as exc:
            raise UnreadableImageError("DICOM image is too large to decode", "too_large") from exc
        except Exception as exc:  # pydicom and its decoder plugins raise many types
            raise _decode_error(exc, _transfer_syntax_name(dataset)) from exc
    return image, metadata


def extract_metadata(
    dataset: Dataset, *, descriptions: bool = False, case_keys: CaseKeys | None = None
) -> dict[str, MetadataValue]:
    """The :data:`SAFE_TAGS` fields of ``dataset`` as plain str/int/float; empty ones omitted.

    ``burned_in_annotation`` is always set, ``instance_number`` and ``slice_position`` where the
    header has them; the :data:`DESCRIPTION_TAGS` only with ``descriptions``; ``series_key``,
    ``study_key`` (and ``patient_key``) only with ``case_keys``
    (:mod:`indexer.imaging.case_keys`).
    """
    metadata: dict[str, MetadataValue] = {"burned_in_annotation": burned_in_annotation(dataset)}
    place = slice_place(dataset)
    metadata.update(place_fields(place))
    if case_keys is not None:
        metadata.update(case_keys.fields(place, dataset))
    tags = {**SAFE_TAGS, **DESCRIPTION_TAGS} if descriptions else SAFE_TAGS
    for keyword, field in tags.items():
        if field in metadata:
            continue
        value: MetadataValue
        if keyword == "TransferSyntaxUID":
            value = _transfer_syntax_name(dataset)
        else:
            value = _plain_value(dataset.get(keyword))
        if value is not None:
            metadata[field] = value
    return metadata


def burned_in_annotation(dataset: Dataset) -> str:
    """ "yes" or "no" from the Burned In Annotation tag; when it is absent, "unknown" for the
    :data:`BURNED_IN_MODALITIES` and secondary captures, "no" for the others."""
    tag = str(dataset.get("BurnedInAnnotation") or "").strip().upper()
    if tag in ("YES", "NO"):
        return tag.lower()
    modality = str(dataset.get("Modality") or "").strip().upper()
    if modality in BURNED_IN_MODALITIES or "ConversionType" in dataset:
        return "unknown"
    return "no"


def _read_dataset(source: Path | bytes) -> Dataset:
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
    except OSError as exc:
        raise UnreadableImageError(f"cannot read file ({exc.strerror})", "corrupt") from exc
    with stream:
        try:
            head = stream.read(132)
            stream.seek(0)
            # force only when the "DICM" marker says this is DICOM; otherwise let pydicom refuse
            dataset = pydicom.dcmread(stream, force=head[128:132] == b"DICM")
            file_size = stream.seek(0, io.SEEK_END)
        except InvalidDicomError as exc:
            raise UnreadableImageError("not a DICOM file", "not_image") from exc
        except Exception as exc:
            raise _decode_error(exc) from exc
    try:
        cut = _is_cut(dataset, file_size)
    except Exception as exc:  # an element with an unknown VR fails when pydicom walks it
        raise _decode_error(exc) from exc
    if cut:
        raise UnreadableImageError("truncated DICOM data", "truncated")
    return dataset


def _is_cut(dataset: Dataset, file_size: int) -> bool:
    """Whether the file ends inside its last element (pydicom reads such files silently).

    Judged from the data set rather than from pydicom's warnings: those are process-wide, so
    with decoding threads one file's warning could be taken for another's.
    """
    tail = deque(dataset.elements(), maxlen=1)  # raw elements in file order, not converted
    if not tail:
        # pydicom drops every element when the file ends inside an undefined-length value,
        # such as compressed pixel data
        return True
    last = tail[0]
    if not isinstance(last, RawDataElement) or last.length == _UNDEFINED_LENGTH:
        return False
    if isinstance(last.value, bytes) and len(last.value) < last.length:
        return True  # the value is short
    # A few bytes after the last element are the start of an element header that was cut.
    # Only judged when pixel data is missing: it turns "no pixel data" into "truncated" and
    # never refuses an image that would decode despite some trailing junk.
    has_pixels = any(keyword in dataset for keyword in _PIXEL_DATA_KEYWORDS)
    return not has_pixels and last.value_tell + last.length < file_size


def _render(dataset: Dataset, max_pixels: int, min_side: int | None) -> Image.Image:
    if not any(keyword in dataset for keyword in _PIXEL_DATA_KEYWORDS):
        raise UnreadableImageError("DICOM file has no pixel data", "no_pixel_data")
    rows, columns = int(dataset.get("Rows") or 0), int(dataset.get("Columns") or 0)
    if rows <= 0 or columns <= 0:
        raise UnreadableImageError("DICOM file has no image size (Rows/Columns)", "corrupt")
    if rows * columns > max_pixels:
        raise UnreadableImageError(
            f"DICOM image is too large ({columns}x{rows} pixels)", "too_large"
        )
    frames = _number_of_frames(dataset)
    frame = frames // 2
    reduced = reduced_jpeg2000_frame(dataset, frame, frames, min_side) if min_side else None
    # decode only the frame shown; as_rgb (default) turns YBR colour into RGB
    pixels = _decoded_frame(dataset, frame, frames) if reduced is None else reduced
    samples = int(dataset.get("SamplesPerPixel") or 1)
    if pixels.ndim == (3 if samples > 1 else 2) + 1:  # a decoder that ignored index
        pixels = pixels[pixels.shape[0] // 2]

    photometric = str(dataset.get("PhotometricInterpretation", "")).strip().upper()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(pixels, dataset)[..., :3]  # an alpha palette is dropped
        return Image.fromarray(_colour_to_uint8(rgb, _palette_bits(dataset)))
    if samples > 1:
        bits = int(dataset.get("BitsStored") or pixels.dtype.itemsize * 8)
        return Image.fromarray(_colour_to_uint8(pixels[..., :3], bits)).convert("RGB")

    grey = _render_monochrome(pixels, dataset, frame)
    if photometric == "MONOCHROME1":
        grey = 255 - grey
    return Image.fromarray(grey).convert("RGB")


def _decoded_frame(dataset: Dataset, frame: int, frames: int) -> np.ndarray:
    """One frame's pixels; a sequential JPEG frame with a non-conforming scan header is repaired
    and decoded again, as DCMTK does."""
    try:
        return pixel_array(dataset, index=frame)
    except Exception:
        repaired = repaired_frame(dataset, frame, frames)
        if repaired is None:
            raise
        return repaired


def _render_monochrome(pixels: np.ndarray, dataset: Dataset, frame: int) -> np.ndarray:
    """Modality transform, then VOI LUT or window, to uint8 (before MONOCHROME1 inversion)."""
    if dataset.get("ModalityLUTSequence"):
        values = apply_modality_lut(pixels, dataset).astype(np.float64)
    else:
        values = pixels.astype(np.float64)
        slope = _as_float(
            _frame_value(dataset, frame, "PixelValueTransformationSequence", "RescaleSlope")
        )
        intercept = _as_float(
            _frame_value(dataset, frame, "PixelValueTransformationSequence", "RescaleIntercept")
        )
        if slope is not None and intercept is not None:
            values = values * slope + intercept

    voi_luts = dataset.get("VOILUTSequence")
    if voi_luts and "LUTDescriptor" in voi_luts[0] and "LUTData" in voi_luts[0]:
        # the LUT is indexed by stored integers; rescaled values are rounded back onto them
        return scale_to_uint8(apply_voi(np.rint(values).astype(np.int64), dataset))

    center = _as_float(_frame_value(dataset, frame, "FrameVOILUTSequence", "WindowCenter"))
    width = _as_float(_frame_value(dataset, frame, "FrameVOILUTSequence", "WindowWidth"))
    if center is None or width is None or width <= 0:
        return scale_to_uint8(values)
    function = str(_frame_value(dataset, frame, "FrameVOILUTSequence", "VOILUTFunction") or "")
    return _apply_window(values, center, width, function.strip().upper() or "LINEAR")


def _apply_window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 windowing onto 0..255."""
    if function == "SIGMOID":
        with np.errstate(over="ignore"):
            unit = 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
        return np.rint(unit * 255.0).astype(np.uint8)
    if function != "LINEAR_EXACT":  # LINEAR, also for unknown functions
        center, width = center - 0.5, width - 1.0
    if width <= 0:  # a LINEAR window of width 1 is a threshold
        return np.where(values > center, 255, 0).astype(np.uint8)
    return scale_to_uint8(values, center - width / 2, center + width / 2)


def _frame_value(dataset: Dataset, frame: int, sequence: str, keyword: str) -> Any:
    """``keyword`` from the frame's functional group, the shared one, or the top level.

    Enhanced multi-frame objects keep rescale and window per frame in functional groups.
    """
    groups = []
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    if per_frame and frame < len(per_frame):
        groups.append(per_frame[frame])
    shared = dataset.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    for group in groups:
        items = group.get(sequence)
        if items and keyword in items[0] and items[0][keyword].value not in (None, ""):
            return items[0][keyword].value
    return dataset.get(keyword)


def _as_float(value: Any) -> float | None:
    """First value of a (possibly multi-valued) numeric element, or None."""
    if isinstance(value, (MultiValue, list, tuple)):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _number_of_frames(dataset: Dataset) -> int:
    try:
        return max(1, int(dataset.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def _palette_bits(dataset: Dataset) -> int:
    descriptor = dataset.get("RedPaletteColorLookupTableDescriptor")
    try:
        return int(descriptor[2]) if descriptor is not None else 8
    except (IndexError, TypeError, ValueError):
        return 8


def _colour_to_uint8(rgb: np.ndarray, bits: int) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return np.ascontiguousarray(rgb)
    return scale_to_uint8(rgb, 0.0, float(2 ** max(1, bits) - 1))


def _transfer_syntax_name(dataset: Dataset) -> str | None:
    file_meta = getattr(dataset, "file_meta", None)
    uid = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if not uid:
        return None
    uid = UID(str(uid))
    # an unknown (private) UID has no name; its digits are not worth keeping
    return uid.name if uid.name != str(uid) else None


def _plain_value(value: Any) -> MetadataValue:
    """A DICOM element value as str/int/float (multi-values joined by backslash) or None."""
    if value is None:
        return None
    if isinstance(value, (MultiValue, list, tuple)):
        parts = [str(part).strip() for part in value if part is not None and str(part).strip()]
        return "\\".join(parts) or None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip().strip("\x00").strip()
        return text or None
    try:  # DSdecimal and other numeric wrappers
        number = float(value)
    except (TypeError, ValueError):
        return None  # bytes, sequences, person names: never stored
    return number if math.isfinite(number) else None


def _decode_error(exc: BaseException, transfer_syntax: str | None = None) -> UnreadableImageError:
    """Turn whatever pydicom or a decoder plugin raised into a typed, short error."""
    # plugin errors span several lines ("... raised by all available plugins:\n  pillow: ...")
    text = " ".join(line.strip() for line in str(exc).splitlines()) or type(exc).__name__
    lowered = text.lower()
    if len(text) > 160:
        text = text[:157] + "..."
    if isinstance(exc, (EOFError, struct.error)) or any(
        marker in lowered for marker in ("less than expected", "truncated", "end of file")
    ):
        return UnreadableImageError("truncated DICOM data", "truncated")
    if "missing dependencies" in lowered:
        return UnreadableImageError(
            f"unsupported DICOM encoding: no decoder installed for {transfer_syntax or 'it'}",
            "unsupported",
        )
    if isinstance(exc, NotImplementedError) or "not support" in lowered or "unsupported" in lowered:
        return UnreadableImageError(f"unsupported DICOM encoding: {text}", "unsupported")
    return UnreadableImageError(f"corrupt DICOM data: {text}", "corrupt")
