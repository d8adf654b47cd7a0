"""What every torch model family's encoder shares: one model thread, device, precision, batches.

A family subclasses :class:`TorchEncoder`, calls :meth:`TorchEncoder._start` first in its
constructor, sets ``_image_tower`` (a callable from normalised pixels to features) and implements
:meth:`pixels` (prepared images to the tower's input), :meth:`text_inputs` (tokens) and
:meth:`text_features` (the text tower), which run on the model thread. Another runtime (ONNX) runs
the same towers on the same inputs. Text and image requests from concurrent callers are
micro-batched (:mod:`.micro_batch`), so each tower must give each item of a batch the vector it
gives that item alone.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from ...errors import InvalidRequestError
from ..base import Encoder, EncoderUsage, FloatArray
from .device import (
    ModelThread,
    forward_in_slices,
    model_dtype,
    resolve_device,
    resolve_precision,
    unit_rows,
)
from .micro_batch import BatchStats, MicroBatcher

#: most texts one forward of a text tower embeds for concurrent requests
TEXTS_PER_FORWARD = 32
#: most images one forward of an image tower embeds for concurrent requests (a CPU runs them in
#: slices of 8 anyway; one batch keeps the waiting queries' answers together, and a GPU gains)
IMAGES_PER_FORWARD = 8


class TorchEncoder(Encoder):
    """An encoder whose torch work, the model's load included, all runs on one thread."""

    _image_tower: Callable[[torch.Tensor], torch.Tensor]
    #: the whole model (both towers), an ``nn.Module``
    model: Any

    def _start(self, model_ref: str, random_weights: bool, device: str, precision: str) -> None:
        """Resolve device and precision and start the model thread (before the model loads)."""
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.model_ref = model_ref
        self.random_weights = random_weights
        self._model_thread = ModelThread()
        self._dtype = model_dtype(self.precision)
        self._text_batcher = MicroBatcher(
            self._model_thread, self._encode_texts, max_items=TEXTS_PER_FORWARD
        )
        # image queries of concurrent requests; an indexing batch (more images) goes alone
        self._image_batcher = MicroBatcher(
            self._model_thread, self._encode_prepared, max_items=IMAGES_PER_FORWARD
        )

    @property
    def text_batches(self) -> BatchStats:
        """How many text requests were embedded in how many forwards (micro-batching at work)."""
        return self._text_batcher.stats

    @property
    def image_batches(self) -> BatchStats:
        """How many image requests were embedded in how many forwards."""
        return self._image_batcher.stats

    def usage(self) -> EncoderUsage:
        texts = self._text_batcher.stats
        return EncoderUsage(
            busy_seconds=self._model_thread.busy_seconds,
            text_requests=texts.requests,
            text_requests_waiting=texts.waiting,
        )

    def encode_prepared(self, images: Sequence[np.ndarray]) -> FloatArray:
        if not len(images):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._image_batcher(images)

    @abstractmethod
    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """One RGB image to the model's input tensor [3, H, W] as the model card's own
        preprocessing makes it: the reference :meth:`prepare` and :meth:`encode_prepared` match."""

    def encode_pixels(self, pixels: torch.Tensor) -> FloatArray:
        """A batch of :meth:`preprocess` tensors [n, 3, H, W] to unit vectors [n, dim]."""
        return self._model_thread.run(self._encode_pixels, pixels)

    def encode_texts(self, texts: Sequence[str]) -> FloatArray:
        if isinstance(texts, str):
            raise InvalidRequestError("encode_texts takes a list of texts, not one string")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._text_batcher(texts)

    def _encode_pixels(self, pixels: torch.Tensor) -> FloatArray:
        pixels = pixels.to(self.device, dtype=self._dtype, non_blocking=True)
        with torch.inference_mode():
            features = forward_in_slices(self._image_tower, pixels)
        return unit_rows(features)

    def _encode_prepared(self, images: Sequence[np.ndarray]) -> FloatArray:
        """Prepared uint8 images to unit vectors, on the model thread."""
        return self._encode_pixels(self.pixels(images))

    def _encode_texts(self, texts: Sequence[str]) -> FloatArray:
        """Texts to unit vectors, on the model thread."""
        inputs = {name: tensor.to(self.device) for name, tensor in self.text_inputs(texts).items()}
        with torch.inference_mode():
            return unit_rows(self.text_features(**inputs))

    @abstractmethod
    def pixels(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Prepared uint8 images [H, W, 3] to the image tower's float32 input [n, 3, H, W]."""

    @abstractmethod
    def text_inputs(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Texts to the text tower's inputs by name (token ids, and a mask where it takes one)."""

    @abstractmethod
    def text_features(self, **inputs: torch.Tensor) -> torch.Tensor:
        """The text tower: :meth:`text_inputs` to features [n, dim], not yet normalised."""

    def release_weights(self) -> None:
        """Let go of the model's weights, keeping its preprocessing, tokeniser and zero-shot
        head, for another runtime that runs the towers itself; embedding here fails afterwards."""
        self.__dict__.pop("model", None)
        self.__dict__.pop("_image_tower", None)

    @property
    def image_tower(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The image tower: :meth:`pixels` to features [n, dim], not yet normalised."""
        return self._image_tower
