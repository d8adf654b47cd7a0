"""The images and texts an int8 model is calibrated and checked on, drawn from the user's corpus.

At most :data:`CALIBRATION_SIZE` images, spread evenly over the corpus (or over an index's images),
and as many texts: the corpus's captions where it has some, else built-in medical phrases. A
corpus with fewer images gives all it has, and the report says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import UnreadableImageError
from ...imaging.decode import load_image
from ...settings import Settings
from ..base import Encoder

CALIBRATION_SIZE = 64

#: texts used where the corpus has no captions (typical radiology and pathology queries)
MEDICAL_PHRASES = tuple(
    f"{view} showing {finding}"
    for view in (
        "chest X-ray",
        "axial CT of the abdomen",
        "brain MRI",
        "abdominal ultrasound",
        "histology slide",
        "fundus photograph",
        "knee radiograph",
        "CT of the chest",
    )
    for finding in (
        "no abnormality",
        "a mass",
        "an effusion",
        "a fracture",
        "inflammation",
        "a lesion with calcification",
        "haemorrhage",
        "oedema",
    )
)


@dataclass(frozen=True)
class CalibrationImage:
    """One candidate image: its name in reports, and how to read it."""

    name: str
    read: Callable[[], Image.Image]


@dataclass(frozen=True)
class Calibration:
    """Candidate images (read lazily; the unreadable are skipped), texts, and the vectors of an
    index to search image-to-image (None before an index exists)."""

    images: Sequence[CalibrationImage]
    texts: Sequence[str]
    captions: bool
    index_vectors: np.ndarray | None = None

    def prepared(self, encoder: Encoder) -> tuple[list[str], list[np.ndarray]]:
        """Names and prepared pixels of up to :data:`CALIBRATION_SIZE` readable images."""
        names: list[str] = []
        arrays: list[np.ndarray] = []
        for image in self.images:
            if len(arrays) == CALIBRATION_SIZE:
                break
            try:
                arrays.append(encoder.prepare(image.read()))
            except (UnreadableImageError, OSError):
                continue
            names.append(image.name)
        return names, arrays

    def describe(self, images: int) -> str:
        """What the set held, saying when it is smaller than :data:`CALIBRATION_SIZE`."""
        texts = "captions of the corpus" if self.captions else "built-in medical phrases"
        note = (
            f" (fewer than {CALIBRATION_SIZE}: the corpus has no more readable images)"
            if images < CALIBRATION_SIZE
            else ""
        )
        return f"{images} images{note} and {len(self.texts)} {texts}"


def needs_calibration(settings: Settings) -> bool:
    """True for the precisions calibrated and checked on the corpus (int8)."""
    return settings.precision == "int8"


def evenly_spaced(total: int, count: int) -> list[int]:
    """Indices of ``count`` of ``total`` items, spread evenly (all of them when fewer)."""
    if total <= count:
        return list(range(total))
    return sorted({int(i) for i in np.linspace(0, total - 1, count)})


def calibration_of(
    images: Sequence[CalibrationImage],
    captions: Sequence[str],
    index_vectors: np.ndarray | None = None,
) -> Calibration:
    """A calibration set from candidate images (three per image wanted, in case some are
    unreadable) and the corpus's captions (built-in phrases when there are none)."""
    chosen = [images[i] for i in evenly_spaced(len(images), 3 * CALIBRATION_SIZE)]
    # the evenly spaced first, then the others, so unreadable ones are replaced by neighbours
    ordered = chosen[::3] + [item for i, item in enumerate(chosen) if i % 3]
    texts = [captions[i] for i in evenly_spaced(len(captions), CALIBRATION_SIZE)]
    return Calibration(
        images=ordered,
        texts=texts or list(MEDICAL_PHRASES),
        captions=bool(texts),
        index_vectors=index_vectors,
    )


def file_images(paths: Sequence[Path]) -> list[CalibrationImage]:
    """Image files as calibration candidates, named by file name."""
    return [CalibrationImage(path.name, partial(_decoded, path)) for path in paths]


def _decoded(path: Path) -> Image.Image:
    return load_image(path).image
