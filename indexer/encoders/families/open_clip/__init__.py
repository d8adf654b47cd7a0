"""The open_clip family: BiomedCLIP and any model open_clip builds.

:mod:`.folder` finds a model's files, :mod:`.encoder` loads them, :mod:`.init_folder` writes a
random-weight BiomedCLIP folder; the declaration below names them for the registry, each imported
only when called.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...family import Architecture, EncoderFamily
from .folder import CONFIG_FILE, HUB_PREFIX, MODEL_ALIASES

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from ...base import Encoder


def _load(model: str, *, device: str, precision: str, compile_images: bool) -> Encoder:
    from .encoder import load_open_clip

    return load_open_clip(model, device=device, precision=precision, compile_images=compile_images)


def _model_card(model: str, device: torch.device) -> Callable[[Image.Image], Any]:
    from .encoder import model_card_embedder

    return model_card_embedder(model, device)


def _write_biomedclip(folder: Path, size: str, seed: int) -> int:
    from .init_folder import write_biomedclip_folder

    return write_biomedclip_folder(folder, size, seed)


FAMILY = EncoderFamily(
    name="open_clip",
    description=f"a folder with {CONFIG_FILE}, or an {HUB_PREFIX} id",
    matches=lambda folder: (folder / CONFIG_FILE).is_file(),
    load=_load,
    aliases=MODEL_ALIASES,
    id_prefixes=(HUB_PREFIX,),
    model_card=_model_card,
    architectures={"biomedclip": Architecture("open_clip family", _write_biomedclip)},
)
