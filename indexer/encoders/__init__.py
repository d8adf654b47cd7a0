"""Encoders: one factory that loads a model by name, hub id or folder.

Example::

    encoder = load_encoder("data/models/tiny", device="cpu", precision="fp32")
    vectors = encoder.encode_texts(["chest X-ray with pleural effusion"])
"""

from __future__ import annotations

from .base import Encoder, FloatArray
from .model_folder import MODEL_ALIASES, ModelFolder, locate_model
from .model_init import init_model_folder


def load_encoder(model: str, *, device: str = "auto", precision: str = "auto") -> Encoder:
    """Load the encoder for ``model`` (alias, ``hf-hub:`` id or local folder)."""
    from .biomedclip import BiomedClipEncoder

    return BiomedClipEncoder(locate_model(model), device=device, precision=precision)


__all__ = [
    "MODEL_ALIASES",
    "Encoder",
    "FloatArray",
    "ModelFolder",
    "init_model_folder",
    "load_encoder",
    "locate_model",
]
