"""The encoder interface every model family implements.

An encoder turns images and texts into L2-normalised float32 vectors of one dimension, and says
exactly which model it is (``fingerprint``), so an index never mixes vectors of two models.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..records import EncoderRecord
from .preparation import ImagePreparation, draft_side

if TYPE_CHECKING:
    import torch

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EncoderUsage:
    """What an encoder has done since it was loaded (for a service's metrics)."""

    #: seconds the model spent computing
    busy_seconds: float = 0.0
    #: text queries answered, and those waiting for the model now
    text_requests: int = 0
    text_requests_waiting: int = 0


class Encoder(ABC):
    """Embeds images and texts into one space of ``dim`` dimensions (unit vectors)."""

    #: the registry family whose code loads the model, e.g. "open_clip"
    family: str
    #: the kind of model within its family, e.g. "biomedclip"
    name: str
    #: embedding dimension
    dim: int
    #: side of the square input image
    image_size: int
    #: stable digest of architecture and weights
    fingerprint: str
    #: how to load this model again (a hub id or an absolute folder path)
    model_ref: str
    #: True when the weights were randomly initialised (test and benchmark folders)
    random_weights: bool
    #: torch device the model runs on
    device: torch.device
    #: "fp32", "bf16" or "fp16" ("int8" on the onnx and openvino runtimes)
    precision: str
    #: what runs the towers (:mod:`indexer.encoders.runtimes`)
    runtime: str = "torch"

    @property
    def draft_size(self) -> int:
        """Shortest side a JPEG may be reduced to while decoding (PIL draft mode)."""
        return draft_side(self.image_size)

    @property
    @abstractmethod
    def preparation(self) -> ImagePreparation:
        """How an image becomes this model's input, as a small picklable object without the
        model (decoding processes take it instead of loading the model)."""

    def prepare(self, image: Image.Image) -> np.ndarray:
        """The image resized and cropped to the model's input, uint8 [H, W, 3], without torch.

        Decoding threads and request threads call this; keeping torch out of them keeps them
        from starting CPU thread pools of their own beside the model's.
        """
        return self.preparation.prepare(image)

    @abstractmethod
    def encode_prepared(self, images: Sequence[np.ndarray]) -> FloatArray:
        """Images from :meth:`prepare` to unit vectors [n, dim]; equal to :meth:`encode_images`."""

    @abstractmethod
    def encode_texts(self, texts: Sequence[str]) -> FloatArray:
        """Texts to unit vectors [n, dim]."""

    @property
    @abstractmethod
    def logit_scale(self) -> float:
        """Temperature the model was trained with (multiplies cosine similarities)."""

    def label_probabilities(self, cosines: FloatArray) -> FloatArray:
        """Zero-shot head: cosines [images, labels] to each image's label probabilities.

        CLIP's head, a softmax over ``logit_scale * cosines`` per row; families trained with
        another loss (SigLIP's sigmoid) override it as their model cards do.
        """
        logits = self.logit_scale * cosines
        probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        return probs

    def encode_images(self, images: Sequence[Image.Image]) -> FloatArray:
        """RGB images to unit vectors [n, dim]."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_prepared([self.prepare(im) for im in images])

    def usage(self) -> EncoderUsage:
        """Work done so far; an encoder without a model of its own has done none."""
        return EncoderUsage()

    def fidelity_record(self) -> dict[str, str] | None:
        """How close this encoder is to its model's fp32 PyTorch recipe, as ``index_info.json``
        records it (``fidelity``); None for an encoder that is that recipe or was not checked."""
        return None

    def describe(self) -> EncoderRecord:
        """What ``index_info.json`` records about the encoder."""
        return EncoderRecord(
            name=self.name,
            family=self.family,
            model=self.model_ref,
            fingerprint=self.fingerprint,
            dim=self.dim,
            random_weights=self.random_weights,
        )
