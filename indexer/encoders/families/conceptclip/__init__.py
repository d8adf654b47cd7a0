"""ConceptCLIP: transformers remote code, loaded only when trusted.

:mod:`.folder` finds a model's files, :mod:`.encoder` loads them, :mod:`.init_folder` writes a
random-weight folder of the Hub repository's layout; the declaration below names them for the
registry, each imported only when called.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...family import Architecture, EncoderFamily
from .folder import HUB_ID, has_remote_code

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from ...base import Encoder


def _load(model: str, *, device: str, precision: str, compile_images: bool) -> Encoder:
    from .encoder import load_conceptclip

    return load_conceptclip(
        model, device=device, precision=precision, compile_images=compile_images
    )


def _model_card(model: str, device: torch.device) -> Callable[[Image.Image], Any]:
    from .encoder import card_embedder

    return card_embedder(model, device)


def _write_conceptclip(folder: Path, size: str, seed: int) -> int:
    from .init_folder import write_conceptclip_folder

    return write_conceptclip_folder(folder, size, seed)


FAMILY = EncoderFamily(
    name="conceptclip",
    description="a folder whose config.json has an auto_map (transformers remote code), "
    f"or the {HUB_ID} id",
    matches=has_remote_code,
    load=_load,
    aliases={"conceptclip": HUB_ID},
    id_prefixes=(HUB_ID,),
    runs_model_code=True,
    model_card=_model_card,
    architectures={"conceptclip": Architecture("transformers remote code", _write_conceptclip)},
)
