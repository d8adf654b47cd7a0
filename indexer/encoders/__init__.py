"""Encoders: one factory that loads a model by name, hub id or folder, whatever its family.

Example::

    encoder = load_encoder("data/models/tiny", device="cpu", precision="fp32")
    vectors = encoder.encode_texts(["chest X-ray with pleural effusion"])

The interface (:class:`Encoder`, ``FloatArray``) loads on first use, so that the command line can
read the registry (``model init --arch``) without numpy or PIL.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .families.open_clip.folder import MODEL_ALIASES, ModelFolder, locate_model
from .family import Architecture, EncoderFamily
from .model_init import init_model_folder
from .registry import family_for, register_family, registered_architectures
from .runtimes import runtime_loader

if TYPE_CHECKING:
    from ..settings import Settings
    from .base import Encoder, FloatArray
    from .onnx.calibration import Calibration

_LAZY = {"Encoder": ".base", "FloatArray": ".base"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_encoder(
    model: str,
    *,
    device: str = "auto",
    precision: str = "auto",
    compile_images: bool = False,
    trust_remote_code: bool = False,
    runtime: str = "torch",
    cache: Path | None = None,
    calibration: Calibration | None = None,
) -> Encoder:
    """Load the encoder for ``model`` (alias, ``hf-hub:`` id or local folder) in ``runtime``.

    The family that loads it is chosen by :func:`.registry.family_for`. ``compile_images``
    compiles the image tower for bulk indexing (see :mod:`.compiled`). A family whose models are
    code shipped in the model folder loads only with ``trust_remote_code``. The onnx runtime
    keeps its exported towers in ``cache``; at int8 it is calibrated and checked on
    ``calibration`` (:mod:`.onnx`).
    """
    return runtime_loader(runtime)(
        model,
        device=device,
        precision=precision,
        compile_images=compile_images,
        trust_remote_code=trust_remote_code,
        cache=cache,
        calibration=calibration,
    )


def encoder_from_settings(
    settings: Settings,
    model: str | None = None,
    *,
    compile_images: bool | None = None,
    calibration: Calibration | None = None,
) -> Encoder:
    """The encoder every front end loads: ``model`` (an index's recorded model, say) or else the
    settings' model, with the settings' runtime, device, precision and trust in model code.

    ``compile_images`` defaults to the ``compile`` setting; searching passes ``False``, since
    compiling pays off only over many batches. ``calibration``: images and texts of the corpus,
    which an int8 model needs (:func:`indexer.encoders.onnx.calibration.calibration_of`).
    """
    return load_encoder(
        model or settings.model,
        device=settings.device,
        precision=settings.precision,
        compile_images=settings.compile if compile_images is None else compile_images,
        trust_remote_code=settings.trust_remote_code,
        runtime=settings.runtime,
        cache=settings.onnx_cache,
        calibration=calibration,
    )


__all__ = [
    "MODEL_ALIASES",
    "Architecture",
    "Encoder",
    "EncoderFamily",
    "FloatArray",
    "ModelFolder",
    "encoder_from_settings",
    "family_for",
    "init_model_folder",
    "load_encoder",
    "locate_model",
    "register_family",
    "registered_architectures",
]
