"""An encoder whose towers run in ONNX Runtime (:class:`~.exported_encoder.ExportedEncoder`)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from .export import IMAGE_FILE, TEXT_FILE
from .exported_encoder import ExportedEncoder

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


class OnnxEncoder(ExportedEncoder):
    """The towers in ``folder`` (see :mod:`.export`) run by ONNX Runtime on the CPU."""

    runtime = "onnx"

    def _open_towers(self, folder: Path) -> None:
        self._image_session = self._model_thread.run(
            partial(_session, spinning=True), folder / IMAGE_FILE, torch.get_num_threads()
        )
        self._text_session = self._model_thread.run(
            partial(_session, spinning=False), folder / TEXT_FILE, TEXT_THREADS
        )
        self._text_names = frozenset(item.name for item in self._text_session.get_inputs())

    def _run_text_tower(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self._text_session.run(None, feeds)[0])

    def _run_image_tower(self, pixels: torch.Tensor) -> torch.Tensor:
        feeds = {"pixels": pixels.numpy()}
        return torch.from_numpy(self._image_session.run(None, feeds)[0])
