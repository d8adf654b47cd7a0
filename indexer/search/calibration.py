"""The calibration set of an int8 model (:mod:`indexer.encoders.onnx.calibration`) drawn from an
index: its images (read from its source), captions and vectors, so the guard's image-to-image
search runs over the index itself. Other precisions need none: None for them.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from ..encoders.onnx.calibration import (
    CALIBRATION_SIZE,
    Calibration,
    CalibrationImage,
    calibration_of,
    evenly_spaced,
    needs_calibration,
)
from ..imaging.decode import decode_image_bytes, load_image
from ..records import InstanceUIDs
from ..settings import Settings
from ..sources.base import CorpusSource
from ..sources.registry import indexed_source
from ..storage.folder import IndexFolder

#: most index vectors the guard searches image-to-image
SEARCHED_VECTORS = 20_000


def index_calibration(settings: Settings) -> Calibration | None:
    """Images, captions and vectors of the index in ``settings.index_dir``."""
    if not needs_calibration(settings):
        return None
    folder = IndexFolder(settings.index_dir)
    info = folder.read_info()
    source = indexed_source(info.corpus_root, settings)
    with folder.open_store() as store:
        ids = store.ids()
        chosen = ids[evenly_spaced(len(ids), 3 * CALIBRATION_SIZE)]
        records = store.get_many(chosen)
        identifiers = store.identifiers_of(chosen)
    images = [
        CalibrationImage(
            records[int(i)].path,
            partial(_original, source, records[int(i)].path, identifiers.get(int(i))),
        )
        for i in chosen
    ]
    captions = [r.caption for r in records.values() if r.caption]
    searched = ids[evenly_spaced(len(ids), SEARCHED_VECTORS)]
    vectors = np.asarray(folder.vector_file(info.dim).read(searched), dtype=np.float32)
    return calibration_of(images, captions, vectors)


def _original(source: CorpusSource, relpath: str, uids: InstanceUIDs | None) -> Image.Image:
    original = source.original(relpath, uids)
    if isinstance(original, Path):
        return load_image(original).image
    return decode_image_bytes(original).image
