"""int8 towers: the image tower by static QDQ quantisation calibrated on images of the corpus, the
text tower by dynamic quantisation (its activations' ranges are measured per query).

Only the products with a weight (``MatMul``/``Gemm`` with a constant operand, the patch ``Conv``)
are quantised: they hold almost all of the compute, and the activation-by-activation products of
attention and the normalisations stay in fp32.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)

from .export import IMAGE_FILE, TEXT_FILE

_WEIGHT_OPS = ["MatMul", "Gemm", "Conv"]
#: images per calibration batch
_CALIBRATION_BATCH = 8


class _PixelBatches(CalibrationDataReader):
    """The calibration images' pixels, a batch at a time, under the tower's input name."""

    def __init__(self, pixels: np.ndarray) -> None:
        self._batches: Iterator[np.ndarray] = iter(
            [pixels[i : i + _CALIBRATION_BATCH] for i in range(0, len(pixels), _CALIBRATION_BATCH)]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {"pixels": batch}


@contextmanager
def _quiet() -> Iterator[None]:
    """The quantiser's advice on the root logger (pre-processing) kept off the user's output."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def quantize_image_tower(fp32: Path, int8: Path, pixels: np.ndarray) -> None:
    """Static QDQ int8 of the image tower ``fp32``, its activation ranges measured on ``pixels``
    (the calibration images through the model's own preprocessing, [n, 3, H, W])."""
    with _quiet():
        quantize_static(
            str(fp32),
            str(int8),
            _PixelBatches(pixels),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=_WEIGHT_OPS,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"MatMulConstBOnly": True},
        )


def quantize_text_tower(fp32: Path, int8: Path) -> None:
    """Dynamic int8 of the text tower ``fp32``: int8 weights, activations quantised per call."""
    with _quiet():
        quantize_dynamic(
            str(fp32),
            str(int8),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=_WEIGHT_OPS[:2],
            extra_options={"MatMulConstBOnly": True},
        )


def quantize_towers(fp32: Path, int8: Path, pixels: np.ndarray) -> None:
    """The int8 towers of the fp32 folder ``fp32`` written into ``int8``, the image tower
    calibrated on ``pixels``."""
    quantize_image_tower(fp32 / IMAGE_FILE, int8 / IMAGE_FILE, pixels)
    quantize_text_tower(fp32 / TEXT_FILE, int8 / TEXT_FILE)
