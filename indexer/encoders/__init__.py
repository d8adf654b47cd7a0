"""Encoders: one factory that loads a model by name, hub id or folder.

Example::

    encoder = load_encoder("data/models/tiny", device="cpu", precision="fp32")
    vectors = encoder.encode_texts(["chest X-ray with pleural effusion"])
"""

from __future__ import annotations

from ..errors import UntrustedModelCodeError
from .base import Encoder, FloatArray
from .families.open_clip.folder import MODEL_ALIASES, ModelFolder, locate_model
from .model_init import init_model_folder
from .registry import EncoderFamily, expand_alias, family_for, register_family


def load_encoder(
    model: str,
    *,
    device: str = "auto",
    precision: str = "auto",
    compile_images: bool = False,
    trust_remote_code: bool = False,
) -> Encoder:
    """Load the encoder for ``model`` (alias, ``hf-hub:`` id or local folder).

    The family that loads it is chosen by :func:`.registry.family_for`. ``compile_images``
    compiles the image tower for bulk indexing (see :mod:`.compiled`). A family whose models are
    code shipped in the model folder loads only with ``trust_remote_code``.
    """
    reference = expand_alias(model)
    family = family_for(reference)
    if family.runs_model_code and not trust_remote_code:
        raise UntrustedModelCodeError(
            f"the model {reference!r} is Python code shipped in its folder ({family.name} "
            "family): loading it runs that code with your permissions. MedSearch does that only "
            "when told to: pass --trust-remote-code or set MEDSEARCH_TRUST_REMOTE_CODE=1 if you "
            "trust where the folder comes from."
        )
    return family.load(reference, device=device, precision=precision, compile_images=compile_images)


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
