"""The part every runtime of exported towers shares: an encoder whose two towers run outside
PyTorch, with the preprocessing, tokenisation, zero-shot head and identity of the PyTorch encoder
of the same model (so all runtimes embed into the same space, under the same fingerprint).

A runtime (:mod:`.encoder` for ONNX Runtime, :mod:`indexer.encoders.openvino.encoder`) opens the
towers of a folder and runs them; nothing here imports a runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..base import FloatArray
from ..preparation import ImagePreparation
from ..runtime.torch_encoder import TorchEncoder
from .fidelity import FidelityReport


class ExportedEncoder(TorchEncoder):
    """The towers in ``folder`` run on the CPU by a runtime (a subclass).

    ``shared`` is the PyTorch encoder of the same model: its preprocessing, tokeniser, zero-shot
    head and identity are used as they are; its weights are not needed once the towers exist.
    """

    runtime: str

    def __init__(self, shared: TorchEncoder, folder: Path, precision: str) -> None:
        self._start(shared.model_ref, shared.random_weights, "cpu", "fp32")
        self.precision = precision
        self._shared = shared
        self.family, self.name = shared.family, shared.name
        self.dim, self.image_size = shared.dim, shared.image_size
        self.fingerprint = shared.fingerprint
        self._open_towers(folder)
        self._image_tower = self._run_image_tower
        #: the guard's figures, for an int8 model (:mod:`.fidelity`)
        self.fidelity: FidelityReport | None = None

    def _open_towers(self, folder: Path) -> None:
        """Open the image and text towers of ``folder`` in the runtime."""
        raise NotImplementedError

    def _run_image_tower(self, pixels: torch.Tensor) -> torch.Tensor:
        """The image tower's features of normalised ``pixels`` [n, 3, H, W]."""
        raise NotImplementedError

    def _run_text_tower(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The text tower's features of the tokeniser's outputs it takes, by input name."""
        raise NotImplementedError

    #: the names of the text tower's inputs (the tokeniser may return more)
    _text_names: frozenset[str]

    def fidelity_record(self) -> dict[str, str] | None:
        return None if self.fidelity is None else self.fidelity.as_record()

    @property
    def preparation(self) -> ImagePreparation:
        return self._shared.preparation

    @property
    def logit_scale(self) -> float:
        return self._shared.logit_scale

    def label_probabilities(self, cosines: FloatArray) -> FloatArray:
        return self._shared.label_probabilities(cosines)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return self._shared.preprocess(image)

    def pixels(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        return self._shared.pixels(images)

    def text_inputs(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return self._shared.text_inputs(texts)

    def text_features(self, **inputs: torch.Tensor) -> torch.Tensor:
        feeds = {
            name: tensor.numpy() for name, tensor in inputs.items() if name in self._text_names
        }
        return torch.from_numpy(self._run_text_tower(feeds))
