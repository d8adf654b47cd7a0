"""Exporting a model's towers to ONNX (fp32) and the cache that holds them.

A cached set of towers lives in ``CACHE/<model fingerprint>/<package>-<version>/<precision>/``,
the package being the runtime's (``onnxruntime-1.32.0``, ``openvino-2026.4.1``): a new model (its
weights' digest is in the fingerprint) or a new runtime finds no folder and makes its own, so a
cache is never used for another model or runtime. A folder is written under a temporary name and
renamed when complete, so a crash or a concurrent maker never leaves a half written one in place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...errors import ModelUnavailableError
from ..runtime.torch_encoder import TorchEncoder

IMAGE_FILE = "image.onnx"
TEXT_FILE = "text.onnx"
#: written last into a finished folder
COMPLETE_MARKER = "complete"
OPSET = 17
#: the texts the text tower is traced with (any two of different lengths)
_TRACE_TEXTS = ("chest X-ray", "axial CT of the abdomen with contrast")


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/medsearch/onnx`` (``~/.cache/medsearch/onnx``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "medsearch" / "onnx"


def cache_folder(cache: Path, fingerprint: str, precision: str, package: str) -> Path:
    """Where the towers of the model ``fingerprint`` at ``precision`` are cached for the runtime
    of the installed distribution ``package`` (``onnxruntime``, ``openvino``)."""
    return cache / fingerprint / f"{package}-{version(package)}" / precision


def cached(folder: Path, make: Callable[[Path], None]) -> Path:
    """``folder``, made by ``make(temporary_folder)`` unless a complete one is there already."""
    if (folder / COMPLETE_MARKER).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        make(temporary)
        (temporary / COMPLETE_MARKER).write_text("", encoding="utf-8")
        if folder.exists():  # an incomplete folder left by an older layout, or a finished rival
            if (folder / COMPLETE_MARKER).is_file():
                return folder
            shutil.rmtree(folder)
        os.replace(temporary, folder)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return folder


class _Tower(nn.Module):
    """A tower method taking named inputs, as a module of positional inputs (what export calls);
    ``model`` is registered so that its weights are exported as weights, not traced constants."""

    def __init__(
        self, model: nn.Module, forward: Callable[..., torch.Tensor], names: tuple[str, ...]
    ) -> None:
        super().__init__()
        self.model = model
        self._forward = forward
        self.names = names
        # export puts a module back into the mode it found it in: eval, as the model must stay
        self.eval()

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self._forward(**dict(zip(self.names, inputs, strict=True)))


def export_towers(encoder: TorchEncoder, folder: Path) -> None:
    """Write ``encoder``'s towers (an fp32 model on the CPU, plain linear layers) to ``folder``."""
    side = encoder.image_size
    pixels = encoder.pixels([np.zeros((side, side, 3), np.uint8)] * 2)
    texts = encoder.text_inputs(list(_TRACE_TEXTS))
    model = encoder.model
    _use_eager_attention(model)
    image = _Tower(model, lambda pixels: encoder.image_tower(pixels), ("pixels",))
    text = _Tower(model, encoder.text_features, tuple(texts))
    encoder._model_thread.run(_export, image, (pixels,), folder / IMAGE_FILE, {0: "images"})
    encoder._model_thread.run(
        _export, text, tuple(texts.values()), folder / TEXT_FILE, {0: "texts", 1: "tokens"}
    )


def _use_eager_attention(model: nn.Module) -> None:
    """Plain attention in every transformers model inside ``model``.

    Their SDPA path decides from the token values whether a mask is needed at all (none when
    no text of the batch is padded); a trace would keep the decision it saw, and another batch
    would be embedded with the wrong mask. The plain path always applies the mask.
    """
    for module in model.modules():
        set_attention = getattr(module, "set_attn_implementation", None)
        if callable(set_attention):
            set_attention("eager")


def _export(
    tower: _Tower, inputs: tuple[torch.Tensor, ...], path: Path, axes: dict[int, str]
) -> None:
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's and the exporter's notices
            torch.onnx.export(
                tower,
                inputs,
                str(path),
                input_names=list(tower.names),
                output_names=["features"],
                dynamic_axes={**{name: axes for name in tower.names}, "features": {0: axes[0]}},
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as exc:  # noqa: BLE001 - any exporter failure means: no ONNX model
        raise ModelUnavailableError(
            f"this model's towers cannot be exported to ONNX ({type(exc).__name__}: {exc}); "
            "run it with --runtime torch"
        ) from exc
