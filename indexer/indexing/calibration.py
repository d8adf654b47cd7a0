"""The calibration set of an int8 model (:mod:`indexer.encoders.onnx.calibration`) drawn from the
corpus being indexed (an index's own: :mod:`indexer.search.calibration`). Other precisions need
none: None for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from PIL import Image

from ..encoders.onnx.calibration import (
    Calibration,
    CalibrationImage,
    calibration_of,
    needs_calibration,
)
from ..imaging.decode import decode_image_bytes
from ..records import MetadataValue
from ..settings import Settings
from ..sources.base import CorpusFile, CorpusSource


def source_calibration(
    settings: Settings, source: CorpusSource, sidecar: Mapping[str, Mapping[str, MetadataValue]]
) -> Calibration | None:
    """Images of the corpus ``source`` and the captions of its metadata ``sidecar``."""
    if not needs_calibration(settings):
        return None
    images = [CalibrationImage(f.relpath, partial(_read, source, f)) for f in source.scan()]
    captions = [str(fields["caption"]) for fields in sidecar.values() if fields.get("caption")]
    return calibration_of(images, captions)


def _read(source: CorpusSource, file: CorpusFile) -> Image.Image:
    return decode_image_bytes(source.read(file)).image
