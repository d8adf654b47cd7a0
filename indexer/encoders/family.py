"""What an encoder family declares: how it recognises its models, how it loads them, and the
architectures ``medsearch model init`` writes for it.

A family is data: each package under :mod:`indexer.encoders.families` declares one
:class:`EncoderFamily` and :mod:`.registry` asks the registered ones in turn. A family names its
loader, model card recipe and folder writers as :class:`ImportedOnCall`, so declaring a family
imports none of its model code (torch, open_clip, transformers) until a model is loaded or written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from .base import Encoder


@dataclass(frozen=True)
class ImportedOnCall:
    """The function ``name`` of the module ``module``, imported the first time it is called."""

    module: str
    name: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(import_module(self.module), self.name)(*args, **kwargs)


class EncoderLoader(Protocol):
    """Loads one model (an alias already expanded) on a device at a precision."""

    def __call__(
        self, model: str, *, device: str, precision: str, compile_images: bool
    ) -> Encoder: ...


#: the model card's recipe for one model on a device: a function embedding one RGB image
ModelCardRecipe = Callable[[str, "torch.device"], Callable[["Image.Image"], Any]]

#: writes a random-weight model folder into an empty folder: (folder, size, seed) -> parameters
FolderWriter = Callable[[Path, str, int], int]


@dataclass(frozen=True)
class Architecture:
    """One architecture ``medsearch model init`` writes a randomly initialised folder of."""

    #: what it is, for ``--arch``'s help, e.g. "open_clip family"
    description: str
    write: FolderWriter
    #: the variants it writes: ``tiny`` keeps the structure at small widths (tests), ``full``
    #: has the real model's widths (benchmarks)
    sizes: tuple[str, ...] = ("tiny", "full")


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
    #: the architectures ``medsearch model init --arch`` writes folders of, by name
    architectures: Mapping[str, Architecture] = field(default_factory=dict)
