"""Each family's image preparation travels without its model and prepares as the encoder does."""

from __future__ import annotations

import pickle

import numpy as np
from PIL import Image

from indexer.encoders import Encoder
from tests.support.helpers import SAMPLE_IMAGES


def test_the_preparation_pickles_small_and_prepares_like_the_encoder(
    family_encoder: Encoder,
) -> None:
    shipped = pickle.dumps(family_encoder.preparation)
    assert len(shipped) < 16 * 1024  # settings only, no weights
    preparation = pickle.loads(shipped)
    assert preparation.image_size == family_encoder.image_size
    assert preparation.draft_size == family_encoder.draft_size
    for name in ("cxr_01.jpg", "fundus_02.png", "histo_01.png"):
        with Image.open(SAMPLE_IMAGES / name) as image:
            image.load()
        wide = image.crop((0, 0, image.width, max(8, image.height // 2)))
        for picture in (image, wide, image.convert("L")):
            prepared = preparation.prepare(picture)
            side = family_encoder.image_size
            assert prepared.shape == (side, side, 3) and prepared.dtype == np.uint8
            assert np.array_equal(prepared, family_encoder.prepare(picture))
