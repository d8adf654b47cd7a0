"""Finding text burned into the pixels of an image with Tesseract OCR.

Ultrasound, secondary-capture and scanned images often show patient data in their pixels.
When the DICOM tag does not settle it (``burned_in_annotation`` is "unknown"),
:func:`settle_burned_in` runs the ``tesseract`` program (Debian package ``tesseract-ocr``) as a
subprocess over the image and records whether it read words there.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess

from PIL import Image, ImageOps

from ..errors import InvalidRequestError
from ..records import MetadataValue
from .decode import decode_image_bytes

#: Tesseract confidence (0..100) a word needs to count
MIN_CONFIDENCE = 70.0
#: words it takes to call it text: a lone "word" is most often a texture read as letters
MIN_WORDS = 2
#: seconds one image may take
OCR_TIMEOUT = 60.0
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9:./-]*[A-Za-z0-9]")


def tesseract_path() -> str:
    """The ``tesseract`` program; :class:`InvalidRequestError` when it is not installed."""
    path = shutil.which("tesseract")
    if path is None:
        raise InvalidRequestError(
            "--ocr-burned-in needs the tesseract program (Debian package tesseract-ocr)"
        )
    return path


def burned_in_words(image: Image.Image) -> list[str]:
    """The words Tesseract reads with confidence in ``image`` (light or dark text alike)."""
    grey = ImageOps.autocontrast(image.convert("L"))
    if min(grey.size) < 600:  # Tesseract reads small overlay fonts better enlarged
        factor = -(-600 // min(grey.size))
        grey = grey.resize((grey.width * factor, grey.height * factor), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    grey.save(buffer, "PNG")
    completed = subprocess.run(
        [tesseract_path(), "stdin", "stdout", "--psm", "11", "tsv"],
        input=buffer.getvalue(),
        capture_output=True,
        timeout=OCR_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip()[:200]
        raise InvalidRequestError(f"tesseract failed: {message}")
    rows = csv.DictReader(io.StringIO(completed.stdout.decode("utf-8", "replace")), delimiter="\t")
    words = []
    for row in rows:
        text = (row.get("text") or "").strip()
        try:
            confidence = float(row.get("conf") or -1)
        except ValueError:
            continue
        if confidence >= MIN_CONFIDENCE and _WORD.fullmatch(text):
            words.append(text)
    return words


def has_burned_in_text(image: Image.Image) -> bool:
    """Whether Tesseract reads at least :data:`MIN_WORDS` words in ``image``."""
    return len(burned_in_words(image)) >= MIN_WORDS


def settle_burned_in(metadata: dict[str, MetadataValue], data: bytes, max_pixels: int) -> None:
    """Turn an "unknown" ``burned_in_annotation`` into "yes"/"no" by OCR of the image file
    ``data`` at full size (overlay fonts are small); note that OCR decided it."""
    if metadata.get("burned_in_annotation") != "unknown":
        return
    image = decode_image_bytes(data, max_pixels=max_pixels).image
    metadata["burned_in_annotation"] = "yes" if has_burned_in_text(image) else "no"
    metadata["burned_in_checked_by"] = "ocr"
