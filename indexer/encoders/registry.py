"""The encoder families MedSearch knows: which one loads a model, and which writes an architecture.

A family is chosen by a model's alias, its id or what its folder holds; families are asked in the
order they were registered, and the first that matches loads the model. The built-in families
(:data:`indexer.encoders.families.BUILT_IN_FAMILIES`) register when this module loads; another
family is one package declaring an :class:`~.family.EncoderFamily` plus one call::

    register_family(
        EncoderFamily(
            name="my_family",
            description="a folder with my_config.json",
            matches=lambda folder: (folder / "my_config.json").is_file(),
            load=load_my_model,
            architectures={"mine": Architecture("my family", write_my_folder)},
        )
    )
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidRequestError, ModelUnavailableError
from .families import BUILT_IN_FAMILIES
from .family import Architecture, EncoderFamily
from .model_files import json_object, model_not_found

#: how many file names an error message lists before it abbreviates
_LISTED_FILES = 8

_FAMILIES: dict[str, EncoderFamily] = {}


def register_family(family: EncoderFamily) -> None:
    """Add ``family`` (or replace the one of the same name)."""
    for other in _FAMILIES.values():
        if other.name == family.name:
            continue
        for what, theirs, ours in (
            ("aliases", other.aliases, family.aliases),
            ("architectures", other.architectures, family.architectures),
        ):
            taken = set(theirs) & set(ours)
            if taken:
                raise ValueError(f"{what} {sorted(taken)} already belong to family {other.name!r}")
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


def registered_architectures() -> tuple[str, ...]:
    """The architectures ``medsearch model init`` writes, the first family's first one first."""
    return tuple(name for family in _FAMILIES.values() for name in family.architectures)


def architecture(name: str) -> Architecture:
    """The registered architecture called ``name``, or an error naming the known ones."""
    for family in _FAMILIES.values():
        if name in family.architectures:
            return family.architectures[name]
    raise InvalidRequestError(
        f"unknown architecture {name!r}; known: {', '.join(registered_architectures())}"
    )


def _contents(folder: Path) -> str:
    """What a folder holds, in the terms families are told apart by."""
    config = json_object(folder / "config.json")
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


for _family in BUILT_IN_FAMILIES:
    register_family(_family)
