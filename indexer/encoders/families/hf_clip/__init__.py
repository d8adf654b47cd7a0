"""Transformers CLIP models such as PubMedCLIP.

:mod:`.folder` finds a model's files, :mod:`.encoder` loads them, :mod:`.init_folder` writes a
random-weight PubMedCLIP folder; the declaration below names them for the registry, each imported
only when called.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...family import Architecture, EncoderFamily
from .folder import HF_CLIP_PREFIX, PUBMEDCLIP_HUB_ID, is_hf_clip_folder

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from ...base import Encoder


def _load(model: str, *, device: str, precision: str, compile_images: bool) -> Encoder:
    from .encoder import load_hf_clip

    return load_hf_clip(model, device=device, precision=precision, compile_images=compile_images)


def _model_card(model: str, device: torch.device) -> Callable[[Image.Image], Any]:
    from .encoder import model_card_embedder

    return model_card_embedder(model, device)


def _write_pubmedclip(folder: Path, size: str, seed: int) -> int:
    from .init_folder import write_pubmedclip_folder

    return write_pubmedclip_folder(folder, size, seed)


FAMILY = EncoderFamily(
    name="hf_clip",
    description=f"a folder with a config.json of model_type 'clip', or an {HF_CLIP_PREFIX} id",
    matches=is_hf_clip_folder,
    load=_load,
    aliases={"pubmedclip": HF_CLIP_PREFIX + PUBMEDCLIP_HUB_ID},
    id_prefixes=(HF_CLIP_PREFIX,),
    model_card=_model_card,
    architectures={"pubmedclip": Architecture("transformers CLIP", _write_pubmedclip)},
)
