"""Encoder families: which code loads a model, chosen by its alias, its id or what its folder holds.

A family is one entry: a name, the short names it answers to, the id prefixes it resolves itself
(``hf-hub:``), a predicate on a local folder's files, and a loader that imports its encoder class
only when called. Adding a model family is one module plus one :func:`register_family` call::

    register_family(
        EncoderFamily(
            name="hf_clip",
            description="a folder with a config.json of model_type 'clip'",
            matches=lambda folder: ...,
            load=load_hf_clip,
        )
    )

Families are asked in the order they were registered; the first that matches loads the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ModelUnavailableError
from .families.hf_clip.folder import (
    HF_CLIP_PREFIX,
    PUBMEDCLIP_HUB_ID,
    is_hf_clip_folder,
    locate_hf_clip,
)
from .families.open_clip.folder import (
    CONFIG_FILE,
    HUB_PREFIX,
    MODEL_ALIASES,
    locate_model,
    model_not_found,
)

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from .base import Encoder

#: how many file names an error message lists before it abbreviates
_LISTED_FILES = 8


class EncoderLoader(Protocol):
    """Loads one model (an alias already expanded) on a device at a precision."""

    def __call__(
        self, model: str, *, device: str, precision: str, compile_images: bool
    ) -> Encoder: ...


#: the model card's recipe for one model on a device: a function embedding one RGB image
ModelCardRecipe = Callable[[str, "torch.device"], Callable[["Image.Image"], Any]]


@dataclass(frozen=True)
class EncoderFamily:
    """One kind of model folder and the encoder that loads it."""

    name: str
    #: what a model of this family looks like, for error messages
    description: str
    #: True when a local folder holds a model of this family
    matches: Callable[[Path], bool]
    load: EncoderLoader
    #: short names accepted by ``--model``, each mapped to the reference it stands for
    aliases: Mapping[str, str] = field(default_factory=dict)
    #: model ids this family resolves itself, not through a local folder
    id_prefixes: tuple[str, ...] = ()
    #: True when loading runs Python code that ships with the model (needs the user's trust)
    runs_model_code: bool = False
    #: the model card's own way of embedding an image, timed by ``bench index`` as a reference
    model_card: ModelCardRecipe | None = None


_FAMILIES: dict[str, EncoderFamily] = {}


def register_family(family: EncoderFamily) -> None:
    """Add ``family`` (or replace the one of the same name)."""
    for other in _FAMILIES.values():
        taken = set(other.aliases) & set(family.aliases)
        if other.name != family.name and taken:
            raise ValueError(f"aliases {sorted(taken)} already belong to family {other.name!r}")
    _FAMILIES[family.name] = family


def unregister_family(name: str) -> None:
    """Remove the family called ``name``."""
    del _FAMILIES[name]


def families() -> tuple[EncoderFamily, ...]:
    """The registered families, in the order they are asked."""
    return tuple(_FAMILIES.values())


def model_aliases() -> dict[str, str]:
    """Every family's short names, each mapped to the reference it stands for."""
    return {alias: ref for family in _FAMILIES.values() for alias, ref in family.aliases.items()}


def expand_alias(model: str) -> str:
    """The reference ``model`` stands for when it is a short name; otherwise ``model``."""
    return model_aliases().get(model, model)


def family_for(model: str) -> EncoderFamily:
    """The family that loads ``model`` (alias, id or local folder), or a clear error."""
    model = expand_alias(model)
    for family in _FAMILIES.values():
        if model.startswith(family.id_prefixes):
            return family
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise model_not_found(model, model_aliases())
    for family in _FAMILIES.values():
        if family.matches(folder):
            return family
    known = "; ".join(f"{f.name} ({f.description})" for f in _FAMILIES.values())
    raise ModelUnavailableError(
        f"{folder.resolve()} holds {_contents(folder)}, which no encoder family of MedSearch "
        f"loads. Known families: {known}."
    )


def _contents(folder: Path) -> str:
    """What a folder holds, in the terms families are told apart by."""
    config = _json_object(folder / "config.json")
    if config is not None:
        traits = []
        if "model_type" in config:
            traits.append(f"model_type {config['model_type']!r}")
        if "auto_map" in config:
            traits.append("an auto_map (remote code)")
        if traits:
            return "a config.json with " + " and ".join(traits)
    names = sorted(p.name for p in folder.iterdir())
    if not names:
        return "no files"
    listed = ", ".join(names[:_LISTED_FILES])
    more = len(names) - _LISTED_FILES
    return f"the files {listed}" + (f" and {more} more" if more > 0 else "")


def _json_object(path: Path) -> dict[str, object] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _load_open_clip(model: str, *, device: str, precision: str, compile_images: bool) -> Encoder:
    from .families.open_clip.encoder import OpenClipEncoder

    return OpenClipEncoder(
        locate_model(model), device=device, precision=precision, compile_images=compile_images
    )


def _open_clip_card(model: str, device: torch.device) -> Callable[[Image.Image], Any]:
    from .families.open_clip.encoder import model_card_embedder

    return model_card_embedder(model, device)


register_family(
    EncoderFamily(
        name="open_clip",
        description=f"a folder with {CONFIG_FILE}, or an {HUB_PREFIX} id",
        matches=lambda folder: (folder / CONFIG_FILE).is_file(),
        load=_load_open_clip,
        aliases=MODEL_ALIASES,
        id_prefixes=(HUB_PREFIX,),
        model_card=_open_clip_card,
    )
)


def _load_hf_clip(model: str, *, device: str, precision: str, compile_images: bool) -> Encoder:
    from .families.hf_clip.encoder import HfClipEncoder

    return HfClipEncoder(
        locate_hf_clip(model), device=device, precision=precision, compile_images=compile_images
    )


def _hf_clip_card(model: str, device: torch.device) -> Callable[[Image.Image], Any]:
    from .families.hf_clip.encoder import model_card_embedder

    return model_card_embedder(model, device)


register_family(
    EncoderFamily(
        name="hf_clip",
        description=f"a folder with a config.json of model_type 'clip', or an {HF_CLIP_PREFIX} id",
        matches=is_hf_clip_folder,
        load=_load_hf_clip,
        aliases={"pubmedclip": HF_CLIP_PREFIX + PUBMEDCLIP_HUB_ID},
        id_prefixes=(HF_CLIP_PREFIX,),
        model_card=_hf_clip_card,
    )
)


def _conceptclip_card(model: str, device: torch.device) -> Callable[[Image.Image], Any]:
    from .families.conceptclip.encoder import card_embedder

    return card_embedder(model, device)


def _load_conceptclip(model: str, *, device: str, precision: str, compile_images: bool) -> Encoder:
    from .families.conceptclip.encoder import load_conceptclip

    return load_conceptclip(
        model, device=device, precision=precision, compile_images=compile_images
    )


register_family(
    EncoderFamily(
        name="conceptclip",
        description="a folder whose config.json has an auto_map (transformers remote code), "
        "or the JerrryNie/ConceptCLIP id",
        matches=lambda folder: "auto_map" in (_json_object(folder / "config.json") or {}),
        load=_load_conceptclip,
        aliases={"conceptclip": "JerrryNie/ConceptCLIP"},
        id_prefixes=("JerrryNie/ConceptCLIP",),
        runs_model_code=True,
        model_card=_conceptclip_card,
    )
)
