"""How a setting is declared and read: field metadata, its description, parsing and checking.

A field of :class:`indexer.settings.Settings` carries :func:`about` as its metadata; a
:class:`SettingSpec` is what front ends and documentation read of it (variable, type, choices,
bounds, default, help, option). :func:`parse_setting` and :func:`check_setting` turn an
environment value into the setting's type and refuse a wrong value with a
:class:`~indexer.errors.SettingsError` that says what the setting accepts.
"""

from __future__ import annotations

import dataclasses
import math
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from .errors import SettingsError
from .sizes import format_size, parse_size

ENV_PREFIX = "MEDSEARCH_"


def about(
    help: str,
    *,
    bounds: tuple[float, float | None] | None = None,
    size: bool = False,
    default_text: str | None = None,
    option: str | None = None,
    metavar: str | None = None,
    word: str | None = None,
    repeatable: bool = False,
) -> dict[str, Any]:
    """Field metadata of a setting: what it does (``help``, one or more sentences) and, where
    they apply, its bounds ([low, high], no upper bound when high is None), whether it is a
    memory size (512M, 4G), how its default reads when it is computed or unset, its option's
    declaration when it is not ``--field-name``, the option's metavar, and for a text setting
    that holds a whole number within ``bounds`` or one ``word`` instead (``all``), that word. A
    ``repeatable`` text setting is a comma-separated list whose option may be given several
    times."""
    metadata: dict[str, Any] = {"help": help}
    extras = {
        "bounds": bounds,
        "default_text": default_text,
        "option": option,
        "metavar": metavar,
        "word": word,
    }
    metadata.update({key: value for key, value in extras.items() if value is not None})
    if size:
        metadata["size"] = True
    if repeatable:
        metadata["repeatable"] = True
    return metadata


@dataclass(frozen=True)
class SettingSpec:
    """One setting as its declaration describes it, for front ends and documentation."""

    name: str
    #: its environment variable, ``MEDSEARCH_<NAME>``
    variable: str
    #: the field's type with ``X | None`` reduced to ``X`` (a ``Literal`` for a choice)
    kind: Any
    #: whether it may be unset (None)
    optional: bool
    help: str
    #: [low, high] of a number (high None: no upper bound)
    bounds: tuple[float, float | None] | None
    #: a memory size, written like 512M or 4G
    size: bool
    #: how the default reads (the default itself, or what an unset or computed one means)
    default_text: str
    #: click declaration of the option that overrides it, e.g. ``--batch-size``
    option: str
    metavar: str | None
    #: the word a whole-number-or-word setting takes instead of a number (``all``), else None
    word: str | None = None
    #: a comma-separated list whose option may be given several times
    repeatable: bool = False

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The accepted values of a choice, else None."""
        return get_args(self.kind) if get_origin(self.kind) is Literal else None

    def range_text(self) -> str:
        """The bounds of a number as people read them: ``1 to 4096``, ``1 or more``, ``1M or
        more`` (a size); empty for other settings."""
        if self.bounds is None:
            return ""
        low, high = self.bounds
        shown = format_size(int(low)) if self.size else f"{low:g}"
        return f"{shown} or more" if high is None else f"{shown} to {high:g}"

    def accepts(self) -> str:
        """What a number accepts, e.g. `` (accepts 1 to 4096)``; empty for other settings."""
        if self.bounds is None:
            return ""
        if self.size:
            return f" (accepts a size of {self.range_text()}, such as 512M or 4G)"
        return f" (accepts {self.range_text()})"


def describe_setting(declared: dataclasses.Field[Any], hint: Any) -> SettingSpec:
    """The setting a settings field declares; ``hint`` is the field's resolved type."""
    optional = get_origin(hint) in (Union, types.UnionType)
    if optional:
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    metadata = declared.metadata
    size = bool(metadata.get("size"))
    return SettingSpec(
        name=declared.name,
        variable=ENV_PREFIX + declared.name.upper(),
        kind=hint,
        optional=optional,
        help=metadata["help"],
        bounds=metadata.get("bounds"),
        size=size,
        default_text=metadata.get("default_text") or _default_text(declared.default, size),
        option=metadata.get("option") or "--" + declared.name.replace("_", "-"),
        metavar=metadata.get("metavar"),
        word=metadata.get("word"),
        repeatable=bool(metadata.get("repeatable")),
    )


def _default_text(default: Any, size: bool) -> str:
    if isinstance(default, bool):
        return "on" if default else "off"
    if size:
        return format_size(default)
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_setting(spec: SettingSpec, raw: str) -> Any:
    """Text of an environment variable -> the setting's type."""
    name = spec.variable
    if spec.size:
        try:
            return parse_size(raw)
        except SettingsError:
            raise SettingsError(f"{name}={raw!r} is not a size such as 512M or 4G") from None
    if spec.kind is bool:
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise SettingsError(f"{name}={raw!r} is not one of 1/0, true/false, yes/no, on/off")
    if spec.kind in (int, float):
        try:
            return spec.kind(raw)
        except ValueError:
            noun = "a whole number" if spec.kind is int else "a number"
            raise SettingsError(f"{name}={raw!r} is not {noun}{spec.accepts()}") from None
    if spec.kind is Path:
        return Path(raw)
    if spec.word is not None:
        normalised = word_or_count(spec, raw)
        if normalised is None:
            raise _not_word_or_count(spec, f"{name}={raw!r}")
        return normalised
    return raw


def word_or_count(spec: SettingSpec, raw: str) -> str | None:
    """A whole-number-or-word setting's text normalised (``ALL`` -> ``all``, ``08`` -> ``8``),
    or None when it is neither the word nor a whole number within the bounds."""
    text = raw.strip()
    if spec.word is not None and text.lower() == spec.word:
        return spec.word
    try:
        number = int(text)
    except ValueError:
        return None
    low, high = spec.bounds or (-math.inf, None)
    return None if number < low or (high is not None and number > high) else str(number)


def _not_word_or_count(spec: SettingSpec, shown: str) -> SettingsError:
    return SettingsError(f"{shown} is not {spec.word} or a whole number of {spec.range_text()}")


def check_setting(spec: SettingSpec, value: Any, shown: str) -> None:
    """Raise SettingsError unless ``value`` is acceptable for the setting (``shown`` names it)."""
    kind = spec.kind
    if value is None:
        if spec.optional:
            return
        raise SettingsError(f"{shown} must be set")
    if spec.choices is not None:
        if value not in spec.choices:
            raise SettingsError(f"{shown} is not one of {', '.join(spec.choices)}")
        return
    if kind is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{shown} must be true or false")
        return
    if kind in (int, float):
        number_types = (int,) if kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, number_types):
            raise SettingsError(f"{shown} must be a number{spec.accepts()}")
        low, high = spec.bounds or (-math.inf, None)
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            raise SettingsError(f"{shown} is out of range{spec.accepts()}")
        return
    if kind is Path:
        if not isinstance(value, Path) or str(value) == "":
            raise SettingsError(f"{shown} must be a folder path")
        if value.exists() and not value.is_dir():
            raise SettingsError(f"{shown} is a file; it must be a folder")
        return
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{shown} must be a non-empty text")
    if spec.word is not None and word_or_count(spec, value) != value:
        raise _not_word_or_count(spec, shown)
