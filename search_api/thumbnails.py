"""Thumbnails and PNG renderings of indexed images, cached on disk.

Renderings are keyed by the image's sha256 (and the thumbnail size), so a re-indexed corpus
never serves a stale picture. Files are replaced atomically (:func:`indexer.atomic.write_atomic`),
so concurrent requests never read a half-written file. When the cache folder cannot be written
the rendering is still returned, just not kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw

from indexer.atomic import write_atomic
from indexer.imaging import DecodedImage, decode_image_bytes, load_image

log = logging.getLogger(__name__)

THUMBNAIL_QUALITY = 85
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _load(source: Path | bytes, max_pixels: int, draft_size: int | None = None) -> DecodedImage:
    if isinstance(source, bytes):  # fetched from a PACS
        return decode_image_bytes(source, max_pixels=max_pixels, draft_size=draft_size)
    return load_image(source, max_pixels=max_pixels, draft_size=draft_size)


def render_thumbnail(source: Path | bytes, size: int, *, max_pixels: int) -> bytes:
    """A JPEG of ``source`` fitting in ``size`` x ``size`` pixels (never enlarged)."""
    decoded = _load(source, max_pixels, size)
    image = decoded.image.convert("RGB")
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buffer.getvalue()


def render_png(source: Path | bytes, *, max_pixels: int) -> bytes:
    """A full-size PNG of ``source`` (used for DICOM, which browsers cannot show)."""
    decoded = _load(source, max_pixels)
    buffer = BytesIO()
    decoded.image.save(buffer, "PNG")
    return buffer.getvalue()


def withheld_placeholder(size: int, image_format: str) -> bytes:
    """A grey square saying why the image is not shown (burned-in patient data)."""
    image = Image.new("RGB", (size, size), (64, 64, 64))
    draw = ImageDraw.Draw(image)
    lines = ["withheld:", "burned-in", "patient data"]
    for row, line in enumerate(lines):
        draw.text((size // 10, size // 3 + row * max(12, size // 10)), line, fill=(230, 230, 230))
    buffer = BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


class RenderCache:
    """A folder of renderings named ``<sha256[:2]>/<sha256>-<variant>.<ext>``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, sha256: str, variant: str, suffix: str) -> Path | None:
        """Where a rendering lives, or None if ``sha256`` is not a plain hex digest."""
        if not _SHA256.fullmatch(sha256):
            return None
        return self.folder / sha256[:2] / f"{sha256}-{variant}{suffix}"

    def get(self, path: Path | None, render: Callable[[], bytes]) -> bytes:
        """The bytes cached at ``path``, else ``render()`` (stored there when possible)."""
        if path is not None:
            try:
                return path.read_bytes()
            except OSError:
                pass  # not rendered yet (or unreadable): render it
        data = render()
        if path is not None:
            try:
                # a cache: a rendering lost to a power cut is rendered again, so no fsync
                write_atomic(path, data, durable=False, make_parents=True)
            except OSError as exc:
                log.warning("cannot cache rendering at %s: %s", path, exc)
        return data
