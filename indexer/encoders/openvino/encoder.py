"""An encoder whose towers run in OpenVINO on the CPU
(:class:`~indexer.encoders.onnx.exported_encoder.ExportedEncoder`).

The image tower is compiled for latency (one request runs a whole batch) on the threads torch
uses; the text tower for latency on one thread and one stream, as a short query gains nothing
from a second thread and leaves the other cores to the request's other work. fp32 asks for f32
inference explicitly (OpenVINO would otherwise run bf16 on a CPU that has it); int8 keeps
OpenVINO's default for the parts left in float.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import openvino.properties as props
import openvino.properties.hint as hints
import torch

from ..onnx.export import IMAGE_FILE, TEXT_FILE
from ..onnx.exported_encoder import ExportedEncoder
from .quantize import IMAGE_MODEL, TEXT_MODEL

#: threads of the text tower (see the module's docstring)
TEXT_THREADS = 1


def _compiled(
    core: ov.Core, path: Path, threads: int, precision: str, streams: int | None = None
) -> ov.CompiledModel:
    """``path`` compiled for the CPU, one request at a time on ``threads`` threads (and
    ``streams`` streams, else OpenVINO's choice)."""
    config: dict[Any, Any] = {
        hints.performance_mode: hints.PerformanceMode.LATENCY,
        props.inference_num_threads: threads,
    }
    if streams is not None:
        config[props.num_streams] = streams
    if precision == "fp32":
        config[hints.inference_precision] = ov.Type.f32
    return core.compile_model(str(path), "CPU", config)


class _Tower:
    """One compiled tower and its request, run synchronously (on the model thread)."""

    def __init__(self, model: ov.CompiledModel) -> None:
        self.inputs = frozenset(name for port in model.inputs for name in port.get_names())
        self._request = model.create_infer_request()

    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        self._request.infer(feeds)
        return np.array(self._request.get_output_tensor(0).data, copy=True)


class OpenVinoEncoder(ExportedEncoder):
    """The towers in ``folder`` run by OpenVINO: the exported ONNX files at fp32, NNCF's int8
    models (:mod:`.quantize`) at int8."""

    runtime = "openvino"

    def _open_towers(self, folder: Path) -> None:
        int8 = self.precision == "int8"
        core = ov.Core()
        image = self._model_thread.run(
            _compiled,
            core,
            folder / (IMAGE_MODEL if int8 else IMAGE_FILE),
            torch.get_num_threads(),
            self.precision,
        )
        text = self._model_thread.run(
            _compiled,
            core,
            folder / (TEXT_MODEL if int8 else TEXT_FILE),
            TEXT_THREADS,
            self.precision,
            1,
        )
        self._image = _Tower(image)
        self._text = _Tower(text)
        self._text_names = self._text.inputs

    def _run_text_tower(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self._text(feeds)

    def _run_image_tower(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._image({"pixels": pixels.numpy()}))
