"""int8 towers made by NNCF for OpenVINO: the image tower by post-training quantisation
calibrated on images of the corpus (weights and activations of the products in int8), the text
tower by data-free int8 weight compression (a query's activations stay in float).

Both are saved as OpenVINO models (``.xml`` graph, ``.bin`` weights) with their float parts in
fp32, so that the inference precision is chosen when the model is compiled, not here.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

import numpy as np
import openvino as ov

from ..onnx.export import IMAGE_FILE, TEXT_FILE

IMAGE_MODEL = "image.xml"
TEXT_MODEL = "text.xml"
#: calibration images NNCF measures the ranges on (at most; the corpus gives up to 64)
_SUBSET_SIZE = 64


#: loggers whose notices while NNCF loads and works are not the user's concern (NNCF's advice;
#: torch's extension builder, which NNCF imports, reporting that there is no CUDA)
_NOISY_LOGGERS = ("nncf", "torch.utils.cpp_extension")


@contextmanager
def _quiet() -> Iterator[None]:
    """NNCF's progress bars (drawn on stdout, where ``--json`` output goes) and notices kept off
    the user's output."""
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with redirect_stdout(io.StringIO()):
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def quantize_image_tower(core: ov.Core, fp32: Path, int8: Path, pixels: np.ndarray) -> None:
    """NNCF int8 of the ONNX image tower ``fp32``, its ranges measured on ``pixels`` one image at
    a time, saved at ``int8`` (``.xml``).

    The recipe is ONNX Runtime's: asymmetric activations (the MIXED preset), ranges from the
    minimum and maximum over the calibration images, and no SmoothQuant, which NNCF applies to
    transformers by default and which moved a small model's embeddings far from fp32
    (docs/benchmarks.md)."""
    import nncf
    from nncf.quantization.advanced_parameters import (
        AdvancedQuantizationParameters,
        AdvancedSmoothQuantParameters,
    )
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    model = nncf.quantize(
        core.read_model(str(fp32)),
        nncf.Dataset([pixels[i : i + 1] for i in range(len(pixels))]),
        preset=nncf.QuantizationPreset.MIXED,
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=min(_SUBSET_SIZE, len(pixels)),
        advanced_parameters=AdvancedQuantizationParameters(
            smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=-1, convolution=-1),
            activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX,
        ),
    )
    ov.save_model(model, str(int8), compress_to_fp16=False)


def quantize_text_tower(core: ov.Core, fp32: Path, int8: Path) -> None:
    """int8 weights (asymmetric, no data needed) of the ONNX text tower ``fp32``, saved at
    ``int8`` (``.xml``)."""
    import nncf

    model = nncf.compress_weights(
        core.read_model(str(fp32)), mode=nncf.CompressWeightsMode.INT8_ASYM
    )
    ov.save_model(model, str(int8), compress_to_fp16=False)


def quantize_towers(fp32: Path, int8: Path, pixels: np.ndarray) -> None:
    """The int8 towers of the fp32 ONNX folder ``fp32`` written into ``int8``, the image tower
    calibrated on ``pixels``."""
    core = ov.Core()
    with _quiet():
        quantize_image_tower(core, fp32 / IMAGE_FILE, int8 / IMAGE_MODEL, pixels)
        quantize_text_tower(core, fp32 / TEXT_FILE, int8 / TEXT_MODEL)
