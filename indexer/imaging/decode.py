"""Decode any supported image file or upload into an 8-bit RGB PIL image.

The format is found from the content (magic bytes), never from the file name: a DICOM file
without extension is read, a text file called ``x.png`` is refused. Raster images get their
EXIF orientation applied; 16-bit and float images are stretched to 8 bits over their actual
min/max; palette, grey, CMYK and YCbCr images become RGB; transparent pixels are flattened onto
black, the usual background of medical images; multi-frame GIF/TIFF give their first frame.
DICOM files are rendered by :mod:`indexer.imaging.dicom`.

Every failure is an :class:`UnreadableImageError` whose ``reason`` is one of ``not_image``,
``truncated``, ``no_pixel_data``, ``too_large``, ``unsupported`` or ``corrupt``. The pixel
count is checked against ``max_pixels`` from the header, before any pixel data is decoded.
Decoder warnings are silenced per call with ``warnings.catch_warnings``. The filters it swaps
are process-wide before Python 3.14, so with several decoding threads a warning can now and
then slip through or stay silenced; results never depend on warnings.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import UnreadableImageError
from ..records import MetadataValue
from ..sizes import DEFAULT_MAX_PIXELS
from .case_keys import CaseKeys
from .dicom import (
    decoder_warnings_suppressed,
    read_dicom,
    scale_to_uint8,
)

IMAGE_FORMATS: tuple[str, ...] = ("png", "jpeg", "tiff", "bmp", "webp", "gif", "dicom")

#: lower-case suffixes of files that claim to be images (content decides what they are)
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".dcm", ".dicom"}
)

#: bytes needed by :func:`sniff_format` (DICOM's "DICM" marker sits at offset 128)
SNIFF_BYTES = 132

_PIL_FORMATS: dict[str, tuple[str, ...]] = {
    "png": ("PNG",),
    "jpeg": ("JPEG",),
    "tiff": ("TIFF",),
    "bmp": ("BMP",),
    "webp": ("WEBP",),
    "gif": ("GIF",),
}
_LABELS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "bmp": "BMP", "webp": "WebP", "gif": "GIF"}
# sizes of the known BMP info headers (core, v1..v5, OS/2 v2): "BM" alone is too weak a sign
_BMP_INFO_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_BACKGROUND = (0, 0, 0, 255)


@dataclass(frozen=True)
class DecodedImage:
    """A decoded image ready for the model, with what was learned while decoding it."""

    #: mode "RGB", 8-bit, EXIF orientation applied (possibly reduced, see ``draft_size``)
    image: Image.Image
    #: one of :data:`IMAGE_FORMATS`
    format: str
    #: size of the full-resolution image (after orientation, before any draft reduction)
    width: int
    height: int
    #: safe DICOM fields; empty for raster images
    metadata: dict[str, MetadataValue] = field(default_factory=dict)


def sniff_format(head: bytes) -> str | None:
    """The image format of data starting with ``head`` (132 bytes suffice), or None."""
    # first: a DICOM preamble is free-form and may itself look like a TIFF header
    if head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # TIFF, BigTIFF
        return "tiff"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if (
        head.startswith(b"BM")
        and len(head) >= 18
        and struct.unpack_from("<I", head, 14)[0] in _BMP_INFO_HEADER_SIZES
    ):
        return "bmp"
    return None


def sniff_file(path: Path) -> str | None:
    """The image format of the file at ``path`` from its first bytes, or None."""
    with open(path, "rb") as stream:
        return sniff_format(stream.read(SNIFF_BYTES))


def load_image(
    path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, draft_size: int | None = None
) -> DecodedImage:
    """Decode the image file at ``path``; see the module docstring for what is done to it.

    ``draft_size``: the image is returned reduced by an integer factor while its shortest side
    stays at least this long (JPEGs while decoding, in draft mode; JPEG 2000 DICOMs at a lower
    resolution level; other formats by a box reduction after it): much faster for large images;
    ``width``/``height`` still give the full size.
    """
    try:
        format_ = sniff_file(path)
    except OSError as exc:
        raise UnreadableImageError(f"cannot read file ({exc.strerror or exc})", "corrupt") from exc
    return _decode(path, format_, max_pixels, draft_size)


def decode_image_bytes(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: int | None = None,
    descriptions: bool = False,
    case_keys: CaseKeys | None = None,
) -> DecodedImage:
    """Decode an image held in memory (an upload); same rules as :func:`load_image`.

    ``descriptions``: keep the free-text DICOM descriptions in the metadata
    (:data:`indexer.imaging.dicom.DESCRIPTION_TAGS`); ``case_keys``: add a DICOM instance's
    series and study keys (:mod:`indexer.imaging.case_keys`).
    """
    format_ = sniff_format(data[:SNIFF_BYTES])
    return _decode(data, format_, max_pixels, draft_size, descriptions, case_keys)


def _decode(
    source: Path | bytes,
    format_: str | None,
    max_pixels: int,
    draft_size: int | None,
    descriptions: bool = False,
    case_keys: CaseKeys | None = None,
) -> DecodedImage:
    if format_ is None:
        raise UnreadableImageError("not a recognised image file", "not_image")
    if format_ == "dicom":
        image, metadata = read_dicom(
            source,
            max_pixels=max_pixels,
            min_side=draft_size,
            descriptions=descriptions,
            case_keys=case_keys,
        )
        # the full size, also when a JPEG 2000 frame was decoded at a lower resolution level
        width, height = metadata.get("columns"), metadata.get("rows")
        if not isinstance(width, int) or not isinstance(height, int):
            width, height = image.size
        decoded = DecodedImage(image, "dicom", width, height, metadata)
    else:
        decoded = _decode_raster(source, format_, max_pixels, draft_size)
    if draft_size and min(decoded.image.size) >= 2 * draft_size:
        # what JPEG draft mode does while decoding, done after it for the other formats: a box
        # reduction by an integer factor, far cheaper than resampling the full image
        reduced = decoded.image.reduce(min(decoded.image.size) // draft_size)
        decoded = replace(decoded, image=reduced)
    return decoded


def _decode_raster(
    source: Path | bytes, format_: str, max_pixels: int, draft_size: int | None
) -> DecodedImage:
    label = _LABELS[format_]
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with decoder_warnings_suppressed():
        try:
            with Image.open(stream, formats=_PIL_FORMATS[format_]) as opened:
                width, height = opened.size  # from the header: nothing decoded yet
                if width <= 0 or height <= 0:
                    raise UnreadableImageError(f"{label} header has no image size", "corrupt")
                if width * height > max_pixels:
                    raise UnreadableImageError(
                        f"image is too large ({width}x{height} pixels)", "too_large"
                    )
                if draft_size and format_ == "jpeg":
                    opened.draft("RGB", (draft_size, draft_size))
                opened.load()
                size_before = opened.size
                ImageOps.exif_transpose(opened, in_place=True)
                if opened.size != size_before:  # rotated by 90 degrees
                    width, height = height, width
                rgb = _to_rgb(opened)
        except UnreadableImageError:
            raise
        except Image.DecompressionBombError as exc:
            raise UnreadableImageError("image is too large to decode safely", "too_large") from exc
        except MemoryError as exc:
            raise UnreadableImageError("image is too large to decode", "too_large") from exc
        except UnidentifiedImageError as exc:
            raise UnreadableImageError(f"corrupt {label} data", "corrupt") from exc
        except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error ...
            raise _decode_error(exc, label) from exc
    return DecodedImage(rgb, format_, width, height, {})


def _to_rgb(image: Image.Image) -> Image.Image:
    """A new 8-bit RGB image from a loaded image of any mode."""
    mode = image.mode
    if mode in ("I", "F") or mode.startswith("I;"):
        # deep grey: stretch the actual range, as clipping to 0..255 would lose the image
        grey = scale_to_uint8(np.asarray(image))
        return Image.fromarray(grey).convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _BACKGROUND)
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _decode_error(exc: BaseException, label: str) -> UnreadableImageError:
    message = str(exc)
    lowered = message.lower()
    if isinstance(exc, (EOFError, struct.error)) or "truncated" in lowered:
        return UnreadableImageError(f"truncated {label} data", "truncated")
    if any(marker in lowered for marker in ("not supported", "unsupported", "not available")):
        detail = message.splitlines()[0][:120]
        return UnreadableImageError(f"unsupported {label} variant: {detail}", "unsupported")
    detail = (message.splitlines()[0] if message else type(exc).__name__)[:120]
    return UnreadableImageError(f"corrupt {label} data: {detail}", "corrupt")
