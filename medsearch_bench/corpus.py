"""A seeded benchmark corpus made from the sample images: many distinct files of mixed sizes.

Every raster sample (JPEG, PNG, TIFF) is written again, for each of its turns, as JPEG or PNG with
its longest side at one of :data:`SIZES` (256 to 2048 px, up- or downscaled); every DICOM sample is
copied as it is (its pixels untouched, 64 to 1841 px, compressed or not) with a new SOP Instance
UID. One seeded pixel of each raster file is nudged, so no two files have the same bytes and the
pipeline's duplicate detection never skips one. Files follow the sample in turn, so any run of 32
consecutive files holds every sample once. The same ``n`` and ``seed`` give the same files.
"""

from __future__ import annotations

import io
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from indexer.errors import InvalidRequestError
from indexer.imaging.decode import load_image, sniff_file

from . import LogFn, no_log
from .samples import sample_images

#: longest side of the re-encoded raster files, in pixels
SIZES = (256, 384, 512, 768, 1024, 1536, 2048)
#: share of raster files written as PNG (the rest are JPEG)
PNG_SHARE = 0.3
JPEG_QUALITY = 90
PNG_COMPRESS_LEVEL = 6


@dataclass(frozen=True)
class _Source:
    path: Path
    format: str
    #: decoded pixels of a raster sample (None for DICOM, which is copied)
    image: Image.Image | None


@dataclass(frozen=True)
class _Plan:
    number: int
    source: _Source
    #: "jpeg", "png" or "dicom"
    format: str
    size: int
    seed: int


def make_corpus(
    out: Path,
    *,
    n: int = 2000,
    seed: int = 0,
    source: Path | None = None,
    workers: int = 2,
    log: LogFn = no_log,
) -> dict[str, Any]:
    """Write ``n`` distinct image files under ``out``, made from the images in ``source``.

    ``source`` defaults to ``data/sample/images`` under the current directory (see
    :func:`~medsearch_bench.samples.sample_images`). Returns what was written.
    """
    if n < 1:
        raise InvalidRequestError("n must be at least 1")
    sources = _read_sources(sample_images(source, option="--source"))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    plans: list[_Plan] = []
    for number in range(n):
        src = sources[number % len(sources)]
        file_seed = int(rng.integers(0, 2**31))
        if src.image is None:
            plans.append(_Plan(number, src, "dicom", 0, file_seed))
        else:
            fmt = "png" if rng.random() < PNG_SHARE else "jpeg"
            plans.append(_Plan(number, src, fmt, int(rng.choice(SIZES)), file_seed))
    log(f"writing {n} files to {out}")
    written: list[tuple[str, int]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for done, item in enumerate(pool.map(lambda p: _write(out, p), plans), start=1):
            written.append(item)
            if done % 500 == 0:
                log(f"  {done}/{n} files")
    formats = Counter(fmt for fmt, _ in written)
    sizes = Counter(p.size for p in plans if p.format != "dicom")
    return {
        "out": str(out),
        "files": n,
        "seed": seed,
        "bytes": sum(size for _, size in written),
        "formats": dict(sorted(formats.items())),
        "raster_sizes": {str(k): v for k, v in sorted(sizes.items())},
        "sources": len(sources),
    }


def _read_sources(folder: Path) -> list[_Source]:
    sources: list[_Source] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        fmt = sniff_file(path)
        if fmt is None:
            continue
        image = None if fmt == "dicom" else load_image(path).image
        sources.append(_Source(path, fmt, image))
    if not sources:
        raise InvalidRequestError(f"{folder} holds no image files")
    return sources


def _write(out: Path, plan: _Plan) -> tuple[str, int]:
    stem = f"{plan.number + 1:06d}_{plan.source.path.stem}"
    if plan.format == "dicom":
        data = _distinct_dicom(plan.source.path, plan.seed)
        target = out / f"{stem}.dcm"
    else:
        assert plan.source.image is not None
        data = _distinct_raster(plan.source.image, plan.format, plan.size, plan.seed)
        target = out / f"{stem}_{plan.size}.{'png' if plan.format == 'png' else 'jpg'}"
    target.write_bytes(data)
    return plan.format, len(data)


def _distinct_raster(image: Image.Image, fmt: str, size: int, seed: int) -> bytes:
    """The image with its longest side at ``size``, one pixel nudged, encoded as ``fmt``."""
    width, height = image.size
    scale = size / max(width, height)
    resized = image.resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BICUBIC
    )
    if _is_grey(image):
        resized = resized.convert("L")
    pixels = np.array(resized)
    rng = np.random.default_rng(seed)
    y, x = int(rng.integers(pixels.shape[0])), int(rng.integers(pixels.shape[1]))
    # a visible change of a few levels, so JPEG quantisation cannot erase it
    pixels[y, x] = np.where(pixels[y, x] > 127, pixels[y, x] - 9, pixels[y, x] + 9)
    buffer = io.BytesIO()
    if fmt == "png":
        Image.fromarray(pixels).save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    else:
        Image.fromarray(pixels).save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _is_grey(image: Image.Image) -> bool:
    small = np.asarray(image.resize((32, 32)), dtype=np.int16)
    return bool(np.abs(small[..., 0] - small[..., 1]).max() <= 2)


def _distinct_dicom(path: Path, seed: int) -> bytes:
    """The DICOM file with a new SOP Instance UID (pixel data and everything else kept)."""
    import pydicom
    from pydicom.uid import generate_uid

    dataset = pydicom.dcmread(path)
    uid = generate_uid(entropy_srcs=[path.name, str(seed)])
    dataset.SOPInstanceUID = uid
    if "MediaStorageSOPInstanceUID" in dataset.file_meta:
        dataset.file_meta.MediaStorageSOPInstanceUID = uid
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=False)
    return buffer.getvalue()
