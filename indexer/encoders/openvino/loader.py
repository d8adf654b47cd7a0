"""The OpenVINO runtime as a runtime of exported towers
(:class:`~indexer.encoders.onnx.loader.ExportedRuntime`): its towers cached under
``openvino-<version>``, quantised by NNCF, run by :class:`~.encoder.OpenVinoEncoder`.

Nothing of OpenVINO or NNCF is imported until the towers are quantised or opened, once the
PyTorch reference model has been let go.
"""

from __future__ import annotations

from functools import partial

from ..family import ImportedOnCall
from ..onnx.loader import ExportedRuntime, load_exported

OPENVINO_RUNTIME = ExportedRuntime(
    name="openvino",
    package="openvino",
    quantise=ImportedOnCall("indexer.encoders.openvino.quantize", "quantize_towers"),
    running=ImportedOnCall("indexer.encoders.openvino.encoder", "OpenVinoEncoder"),
)

#: the encoder of a model in OpenVINO (:func:`~indexer.encoders.onnx.loader.load_exported`)
load_openvino = partial(load_exported, OPENVINO_RUNTIME)
