"""An encoder without a model, for an index whose vectors were made elsewhere.

A :class:`~indexer.search.retriever.Retriever` needs an encoder; over such an index (synthetic
vectors, say) it can still answer vector queries, and every call that would embed an image or a
text is refused with :class:`~indexer.errors.InvalidRequestError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..errors import InvalidRequestError
from .base import Encoder, FloatArray
from .preparation import ImagePreparation


class VectorOnlyEncoder(Encoder):
    """Stands in for a model of ``dim`` dimensions when only vector queries are asked."""

    family = "synthetic"
    name = "synthetic"
    image_size = 224
    fingerprint = "synthetic"
    model_ref = "synthetic"
    random_weights = True
    device = torch.device("cpu")
    precision = "fp32"

    def __init__(self, dim: int) -> None:
        self.dim = dim

    @property
    def preparation(self) -> ImagePreparation:
        raise _refusal()

    def encode_prepared(self, images: Sequence[np.ndarray]) -> FloatArray:
        raise _refusal()

    def encode_texts(self, texts: Sequence[str]) -> FloatArray:
        raise _refusal()

    @property
    def logit_scale(self) -> float:
        return 1.0


def _refusal() -> InvalidRequestError:
    return InvalidRequestError("this index has no model: it answers vector queries only")
