"""An encoder whose towers run in ONNX Runtime, with the preprocessing and tokenisation of the
PyTorch encoder of the same model (so both embed into the same space, same fingerprint)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
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

#: threads of the text tower's session: a query of a few tokens is a handful of small products,
#: which a second thread splits into pieces smaller than the cost of handing them over, and one
#: thread leaves the other cores to the requests' other work (tokens, search, HTTP)
TEXT_THREADS = 1


def _session(path: Path, threads: int, *, spinning: bool) -> onnxruntime.InferenceSession:
    """A CPU session of ``threads`` threads, the graph fully optimised, one operator at a time.

    ``spinning``: idle pool threads spin for the next operator rather than sleep, which a batch of
    images gains from; between short text queries it only burns a core that other work needs.
    """
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
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
        self._image_session = self._model_thread.run(
            partial(_session, spinning=True), folder / IMAGE_FILE, torch.get_num_threads()
        )
        self._text_session = self._model_thread.run(
            partial(_session, spinning=False), folder / TEXT_FILE, TEXT_THREADS
        )
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
