"""How the openvino runtime compiles a tower: threads, streams, the precision asked for, and the
run-time quantisation of an int8 text tower's activations."""

from __future__ import annotations

from pathlib import Path

import nncf
import numpy as np
import openvino as ov
from openvino import opset13 as ops

from indexer.encoders.openvino.encoder import TEXT_ACTIVATION_GROUP, _compiled

WIDTH = 512


def _linear_model(path: Path, int8_weights: bool) -> np.ndarray:
    """A one-layer model (tokens x WIDTH -> WIDTH) saved at ``path``; its weights."""
    weights = np.random.default_rng(0).standard_normal((WIDTH, WIDTH)).astype(np.float32)
    tokens = ops.parameter([-1, WIDTH], ov.Type.f32, name="tokens")
    output = ops.matmul(tokens, ops.constant(weights), False, True)
    model = ov.Model([output], [tokens], "linear")
    if int8_weights:
        model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    ov.save_model(model, str(path), compress_to_fp16=False)
    return weights


def test_an_int8_text_tower_quantises_its_activations_in_groups(tmp_path: Path) -> None:
    weights = _linear_model(tmp_path / "text.xml", int8_weights=True)
    compiled = _compiled(ov.Core(), tmp_path / "text.xml", 2, "int8", 1, TEXT_ACTIVATION_GROUP)
    assert int(compiled.get_property("DYNAMIC_QUANTIZATION_GROUP_SIZE")) == TEXT_ACTIVATION_GROUP
    assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 2
    assert int(compiled.get_property("NUM_STREAMS")) == 1
    tokens = np.random.default_rng(1).standard_normal((7, WIDTH)).astype(np.float32)
    found = compiled.create_infer_request().infer({"tokens": tokens})[0]
    expected = tokens @ weights.T
    norms = np.linalg.norm(found, axis=1) * np.linalg.norm(expected, axis=1)
    assert (np.sum(found * expected, 1) / norms).min() >= 0.999


def test_fp32_asks_for_fp32_and_leaves_the_activations_alone(tmp_path: Path) -> None:
    _linear_model(tmp_path / "text.xml", int8_weights=False)
    compiled = _compiled(ov.Core(), tmp_path / "text.xml", 1, "fp32", 1)
    assert compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32
    assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 1
