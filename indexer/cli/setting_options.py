"""Command-line options that override a setting, built from the setting's declaration.

``@setting_option("batch_size")`` adds ``--batch-size`` with the setting's bounds
(:class:`click.IntRange`), choices (:class:`click.Choice` of its ``Literal``) and help; unset, it
leaves the setting to ``MEDSEARCH_BATCH_SIZE`` or its default. A repeatable setting's option may
be given several times (``--group-field case --group-field patient``). The value does not reach the
command as an argument: the command asks :func:`indexer.cli.options.settings_from` for its
settings, which applies every such option given on the command line on top of the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import SettingsError
from ..setting_spec import SettingSpec, word_or_count
from ..settings import setting_spec
from ..sizes import parse_size

F = TypeVar("F", bound=Callable[..., Any])

#: key in the click context's ``meta`` under which the given setting options are kept
_OVERRIDES_KEY = "medsearch.setting_overrides"


class SizeParam(click.ParamType):
    """A memory size such as 512M or 4G, in bytes, of at least ``minimum`` bytes."""

    name = "size"

    def __init__(self, minimum: int = 0, accepts: str = "") -> None:
        self.minimum = minimum
        self._accepts = accepts

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            size = value
        else:
            try:
                size = parse_size(str(value))
            except SettingsError as exc:
                self.fail(exc.message, param, ctx)
        if size < self.minimum:
            self.fail(f"{value!r} is out of range{self._accepts}", param, ctx)
        return size


class WordOrCountParam(click.ParamType):
    """A whole number within a setting's bounds, or the one word it takes instead (``all``)."""

    name = "word or count"

    def __init__(self, spec: SettingSpec) -> None:
        self.spec = spec

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        normalised = word_or_count(self.spec, str(value))
        if normalised is None:
            self.fail(
                f"{value!r} is not {self.spec.word} or a whole number of {self.spec.range_text()}",
                param,
                ctx,
            )
        return normalised


class SettingOption(click.Option):
    """An option that overrides the setting :attr:`setting` (see the module's docstring)."""

    def __init__(self, param_decls: list[str], *, spec: SettingSpec) -> None:
        self.setting = spec.name
        is_bool = spec.kind is bool
        super().__init__(
            param_decls,
            type=None if is_bool else _click_type(spec),
            is_flag=is_bool,
            multiple=spec.repeatable,
            default=None,
            metavar=spec.metavar,
            help=spec.help,
            show_default=f"{spec.variable} or {spec.default_text}",
            expose_value=False,
            callback=_remember,
        )


def setting_option(name: str) -> Callable[[F], F]:
    """The option that overrides the setting ``name`` (a field of :class:`Settings`)."""

    spec = setting_spec(name)
    return click.option(spec.option, spec.name, cls=SettingOption, spec=spec)


def setting_options(*names: str) -> Callable[[F], F]:
    """One :func:`setting_option` per name, listed in that order in the command's help."""

    def decorate(func: F) -> F:
        for name in reversed(names):
            func = setting_option(name)(func)
        return func

    return decorate


def command_line_overrides(ctx: click.Context) -> dict[str, Any]:
    """Setting name -> value of each setting option given on the command line of ``ctx``."""
    return dict(ctx.meta.get(_OVERRIDES_KEY, {}))


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if isinstance(value, tuple):  # a repeatable option: its setting is the values, listed
        value = ",".join(value) or None
    if value is not None and param.name is not None:
        ctx.meta.setdefault(_OVERRIDES_KEY, {})[param.name] = value


def _click_type(spec: SettingSpec) -> click.ParamType:
    if spec.choices is not None:
        return click.Choice(spec.choices)
    if spec.size:
        return SizeParam(int(spec.bounds[0]) if spec.bounds else 0, spec.accepts())
    if spec.word is not None:
        return WordOrCountParam(spec)
    if spec.kind in (int, float):
        low, high = spec.bounds or (None, None)
        if spec.kind is int:
            return click.IntRange(_whole(low), _whole(high))
        return click.FloatRange(low, high)
    if spec.kind is Path:
        return click.Path(file_okay=False, path_type=Path)
    return click.STRING


def _whole(bound: float | None) -> int | None:
    return None if bound is None else int(bound)
