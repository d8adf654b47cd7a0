"""What every ``medsearch`` command shares: option decorators, settings, error reporting, JSON.

Command modules import from here only, never the group, so nothing imports in a circle.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar, get_args

import click

from ..errors import DiskFullError, EvaluationInputError, MedSearchError, SettingsError
from ..settings import Device, Precision, Settings

F = TypeVar("F", bound=Callable[..., Any])

#: exit status of a usage problem (click's own, also used for a wrong setting)
USAGE_EXIT_CODE = 2
#: exit status of a write that found the disk full (the published index is left as it was)
DISK_FULL_EXIT_CODE = 3


class SettingsProblem(click.ClickException):
    """A wrong ``MEDSEARCH_*`` value, option or input: one line on stderr, exit status 2."""

    exit_code = USAGE_EXIT_CODE


class DiskFull(click.ClickException):
    """A write found no room: one line on stderr, exit status 3."""

    exit_code = DISK_FULL_EXIT_CODE


def reports_errors(func: F) -> F:
    """Turn library errors into a one-line message: exit 2 for a setting or a bad evaluation
    input, 3 for a full disk, 1 for the rest."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (SettingsError, EvaluationInputError) as exc:
            raise SettingsProblem(exc.message) from exc
        except DiskFullError as exc:
            raise DiskFull(exc.message) from exc
        except MedSearchError as exc:
            raise click.ClickException(exc.message) from exc

    return wrapper  # type: ignore[return-value]


def settings_from(**overrides: Any) -> Settings:
    """Settings from MEDSEARCH_* variables (as the group loaded them) with CLI flags on top."""
    context = click.get_current_context(silent=True)
    loaded = context.find_object(Settings) if context else None
    return (loaded or Settings.from_env()).replace(**overrides)


def device_option(func: F) -> F:
    """``--device``, with the choices of :data:`indexer.settings.Device`."""
    return click.option(
        "--device", type=click.Choice(get_args(Device)), help="Where the model runs."
    )(func)


def precision_option(
    help: str = "Numeric precision (auto: bf16 where the hardware has it).",
) -> Callable[[F], F]:
    """``--precision``, with the choices of :data:`indexer.settings.Precision`."""
    return click.option("--precision", type=click.Choice(get_args(Precision)), help=help)


def compile_option(func: F) -> F:
    """``--compile/--no-compile``: torch.compile the image tower (unset: MEDSEARCH_COMPILE)."""
    return click.option(
        "--compile/--no-compile",
        "compile_images",
        default=None,
        help="Compile the image tower with torch.compile (fuses elementwise work; slow to "
        "start, needs a C++ compiler). Whether it pays off depends on the hardware: measure "
        "it with `medsearch bench index --compile` (see docs/benchmarks.md).",
    )(func)


def trust_remote_code_option(func: F) -> F:
    """``--trust-remote-code``: allow a model whose code ships in its folder (unset: the setting).

    The command passes ``trust_remote_code or None`` to :func:`settings_from`, so that without
    the flag ``MEDSEARCH_TRUST_REMOTE_CODE`` decides.
    """
    return click.option(
        "--trust-remote-code",
        is_flag=True,
        help="Allow a model that is Python code shipped in its folder (ConceptCLIP): loading it "
        "runs that code. Only for folders from a source you trust "
        "[default: MEDSEARCH_TRUST_REMOTE_CODE or off].",
    )(func)


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (the ``--json`` output of every command)."""
    click.echo(json.dumps(data, indent=2, default=str))
