"""An encoder whose towers run in OpenVINO on the CPU
(:class:`~indexer.encoders.onnx.exported_encoder.ExportedEncoder`).

Both towers are compiled for latency (one request runs a whole batch, or a micro-batch of
queries) on the threads torch uses, the text tower in one stream. fp32 asks for f32 inference
explicitly (OpenVINO would otherwise run bf16 on a CPU that has it); int8 keeps OpenVINO's
default for the parts left in float. The int8 text tower, whose weights alone are int8
(:mod:`.quantize`), also quantises its activations as it runs, in groups of
:data:`TEXT_ACTIVATION_GROUP` values, so that its products run on the CPU's int8 units: a query
embeds in about half the time of the bf16 PyTorch path (docs/benchmarks.md, "Ten million
vectors: the last targets"), and the fidelity guard holds it to the same thresholds.
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

#: values per group of the int8 text tower's activations quantised at run time
TEXT_ACTIVATION_GROUP = 256


def _compiled(
    core: ov.Core,
    path: Path,
    threads: int,
    precision: str,
    streams: int | None = None,
    activation_group: int | None = None,
) -> ov.CompiledModel:
    """``path`` compiled for the CPU, one request at a time on ``threads`` threads (and
    ``streams`` streams, else OpenVINO's choice; activations of int8 weights quantised in
    groups of ``activation_group`` values, else as OpenVINO decides)."""
    config: dict[Any, Any] = {
        hints.performance_mode: hints.PerformanceMode.LATENCY,
        props.inference_num_threads: threads,
    }
    if streams is not None:
        config[props.num_streams] = streams
    if activation_group is not None:
        config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = activation_group
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
            torch.get_num_threads(),
            self.precision,
            1,
            TEXT_ACTIVATION_GROUP if int8 else None,
        )
        self._image = _Tower(image)
        self._text = _Tower(text)
        self._text_names = self._text.inputs

    def _run_text_tower(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self._text(feeds)

    def _run_image_tower(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._image({"pixels": pixels.numpy()}))
