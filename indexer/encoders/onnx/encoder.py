"""An encoder whose towers run in ONNX Runtime, with the preprocessing and tokenisation of the
PyTorch encoder of the same model (so both embed into the same space, same fingerprint)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from PIL import Image

from ..base import FloatArray
from ..preparation import ImagePreparation
from ..runtime.torch_encoder import TorchEncoder
from .export import IMAGE_FILE, TEXT_FILE
from .fidelity import FidelityReport


def _session(path: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = torch.get_num_threads()
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxEncoder(TorchEncoder):
    """The towers in ``folder`` (see :mod:`.export`) run by ONNX Runtime on the CPU.

    ``shared`` is the PyTorch encoder of the same model: its preprocessing, tokeniser, zero-shot
    head and identity are used as they are; its weights are not needed once the towers exist.
    """

    runtime = "onnx"

    def __init__(self, shared: TorchEncoder, folder: Path, precision: str) -> None:
        self._start(shared.model_ref, shared.random_weights, "cpu", "fp32")
        self.precision = precision
        self._shared = shared
        self.family, self.name = shared.family, shared.name
        self.dim, self.image_size = shared.dim, shared.image_size
        self.fingerprint = shared.fingerprint
        self._image_session = self._model_thread.run(_session, folder / IMAGE_FILE)
        self._text_session = self._model_thread.run(_session, folder / TEXT_FILE)
        self._text_names = {item.name for item in self._text_session.get_inputs()}
        self._image_tower = self._run_image_tower
        #: the guard's figures, for an int8 model (:mod:`.fidelity`)
        self.fidelity: FidelityReport | None = None

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
        return torch.from_numpy(self._text_session.run(None, feeds)[0])

    def _run_image_tower(self, pixels: torch.Tensor) -> torch.Tensor:
        feeds = {"pixels": pixels.numpy()}
        return torch.from_numpy(self._image_session.run(None, feeds)[0])
