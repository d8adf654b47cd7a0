"""How an encoder turns a decoded image into the uint8 input its model takes, without the model.

An :class:`ImagePreparation` is a small picklable object: processes that only decode and resize
(the Ray engine's decoding tasks) receive it instead of loading the model for its resize and
crop settings. Each family builds its own from its model card's steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image


def draft_side(image_size: int) -> int:
    """Shortest side a JPEG may be reduced to while decoding (PIL draft mode): twice the model's
    input side, so the resize to the input side still averages several decoded pixels into each,
    which keeps embeddings within cosine 0.999 of a full decode."""
    return 2 * image_size


@dataclass(frozen=True)
class ImagePreparation:
    """An RGB image to the model's input side, uint8 [H, W, 3], by picklable PIL ``steps``."""

    image_size: int
    #: resize and crop (PIL image in, PIL image or array out); must pickle without the model
    steps: Callable[[Image.Image], Any]

    @property
    def draft_size(self) -> int:
        return draft_side(self.image_size)

    def prepare(self, image: Image.Image) -> np.ndarray:
        return np.asarray(self.steps(image.convert("RGB")), dtype=np.uint8)


@dataclass(frozen=True)
class ShortestEdgeCrop:
    """Resize the shortest edge to ``shortest_edge`` (the long side rounded as transformers'
    image processors round it), then crop the centre ``crop`` (height, width)."""

    shortest_edge: int
    crop: tuple[int, int]
    resample: int

    def __call__(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        short, long = sorted((width, height))
        new_long = int(self.shortest_edge * long / short)
        size = (self.shortest_edge, new_long) if width <= height else (new_long, self.shortest_edge)
        resized = image.resize(size, resample=self.resample)
        crop_h, crop_w = self.crop
        top = int((size[1] - crop_h) / 2.0)
        left = int((size[0] - crop_w) / 2.0)
        return resized.crop((left, top, left + crop_w, top + crop_h))


@dataclass(frozen=True)
class Squash:
    """Resize to a ``side`` x ``side`` square, bicubic, without keeping the aspect ratio."""

    side: int

    def __call__(self, image: Image.Image) -> Image.Image:
        return image.resize((self.side, self.side), Image.Resampling.BICUBIC)
