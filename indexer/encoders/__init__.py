"""Encoders: one factory that loads a model by name, hub id or folder.

Example::

    encoder = load_encoder("data/models/tiny", device="cpu", precision="fp32")
    vectors = encoder.encode_texts(["chest X-ray with pleural effusion"])
"""

from __future__ import annotations

from .base import Encoder, FloatArray
from .model_folder import MODEL_ALIASES, ModelFolder, locate_model
from .model_init import init_model_folder
from .registry import EncoderFamily, expand_alias, family_for, register_family


def load_encoder(
    model: str, *, device: str = "auto", precision: str = "auto", compile_images: bool = False
) -> Encoder:
    """Load the encoder for ``model`` (alias, ``hf-hub:`` id or local folder).

    The family that loads it is chosen by :func:`.registry.family_for`. ``compile_images``
    compiles the image tower for bulk indexing (see :mod:`.compiled`).
    """
    reference = expand_alias(model)
    return family_for(reference).load(
        reference, device=device, precision=precision, compile_images=compile_images
    )


__all__ = [
    "MODEL_ALIASES",
    "Encoder",
    "EncoderFamily",
    "FloatArray",
    "ModelFolder",
    "family_for",
    "init_model_folder",
    "load_encoder",
    "locate_model",
    "register_family",
]
