"""Thumbnails and PNG renderings of indexed images, cached on disk.

Renderings are keyed by the image's sha256 (and the thumbnail size), so a re-indexed corpus never
serves a stale picture. Files are replaced atomically (:func:`indexer.storage.atomic.write_atomic`),
so concurrent requests never read a half-written file. When the cache folder cannot be written the
rendering is still returned, just not kept. The folder holds at most ``max_bytes``: past that, the
least recently used renderings are deleted (they are rendered again when asked for).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw

from indexer.imaging.decode import DecodedImage, decode_image_bytes, load_image
from indexer.storage.atomic import write_atomic

log = logging.getLogger(__name__)

THUMBNAIL_QUALITY = 85
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: the name of a rendering (not of a temporary file being written next to it)
_RENDERING = re.compile(r"[0-9a-f]{64}-\w+\.\w+\Z")


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
    """A folder of renderings named ``<sha256[:2]>/<sha256>-<variant>.<ext>``, capped in size.

    The least recently used renderings go first once the files add up to more than
    ``max_bytes``. The sizes are counted by this process (the folder is read once, oldest files
    first, when the first rendering is stored): processes sharing one folder each keep to the cap
    for the files they know of.
    """

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._sizes: OrderedDict[Path, int] | None = None  # least recently used first
        self._total = 0

    def path_for(self, sha256: str, variant: str, suffix: str) -> Path | None:
        """Where a rendering lives, or None if ``sha256`` is not a plain hex digest."""
        if not _SHA256.fullmatch(sha256):
            return None
        return self.folder / sha256[:2] / f"{sha256}-{variant}{suffix}"

    def get(self, path: Path | None, render: Callable[[], bytes]) -> bytes:
        """The bytes cached at ``path``, else ``render()`` (stored there when possible)."""
        if path is not None:
            try:
                data = path.read_bytes()
            except OSError:
                pass  # not rendered yet (or unreadable): render it
            else:
                self._used(path)
                return data
        data = render()
        if path is not None and len(data) <= self.max_bytes:
            try:
                # a cache: a rendering lost to a power cut is rendered again, so no fsync
                write_atomic(path, data, durable=False, make_parents=True)
            except OSError as exc:
                log.warning("cannot cache rendering at %s: %s", path, exc)
            else:
                self._stored(path, len(data))
        return data

    @property
    def size_bytes(self) -> int:
        """Bytes of the renderings this cache knows of."""
        with self._lock:
            return self._known()[1]

    def _used(self, path: Path) -> None:
        with self._lock:
            sizes, _ = self._known()
            if path in sizes:
                sizes.move_to_end(path)

    def _stored(self, path: Path, size: int) -> None:
        """Count a stored rendering, then delete the least recently used ones past the cap."""
        with self._lock:
            sizes, _ = self._known()
            self._total += size - sizes.pop(path, 0)
            sizes[path] = size
            while self._total > self.max_bytes and sizes:
                oldest, oldest_size = sizes.popitem(last=False)
                self._total -= oldest_size
                try:
                    oldest.unlink()
                except FileNotFoundError:
                    pass  # removed by someone else: already gone
                except OSError as exc:
                    log.warning("cannot evict rendering %s: %s", oldest, exc)

    def _known(self) -> tuple[OrderedDict[Path, int], int]:
        """The renderings and their total size, read from the folder the first time (locked)."""
        if self._sizes is None:
            found: list[tuple[float, Path, int]] = []
            for entry in _renderings(self.folder):
                try:
                    stat = entry.stat()
                except OSError:
                    continue
                found.append((stat.st_mtime, Path(entry.path), stat.st_size))
            found.sort(key=lambda item: item[0])
            self._sizes = OrderedDict((path, size) for _, path, size in found)
            self._total = sum(self._sizes.values())
        return self._sizes, self._total


def _renderings(folder: Path) -> list[os.DirEntry[str]]:
    """The renderings in the two-character subfolders of ``folder`` (none if unreadable)."""
    files: list[os.DirEntry[str]] = []
    try:
        with os.scandir(folder) as shards:
            for shard in shards:
                if shard.is_dir(follow_symlinks=False) and len(shard.name) == 2:
                    with os.scandir(shard.path) as entries:
                        files.extend(
                            e
                            for e in entries
                            if _RENDERING.match(e.name) and e.is_file(follow_symlinks=False)
                        )
    except OSError:
        pass
    return files
