"""What every ``medsearch`` command shares: its settings, error reporting, JSON.

Command modules import from here and :mod:`.setting_options`, never the group, so nothing
imports in a circle.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import DiskFullError, EvaluationInputError, MedSearchError, SettingsError
from ..settings import Settings
from .setting_options import command_line_overrides

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
    """This command's settings: MEDSEARCH_* variables (as the group loaded them), the setting
    options given on its command line (:mod:`indexer.cli.setting_options`), then ``overrides``.

    A command run on its own, outside the ``medsearch`` group, reads the variables here.
    """
    context = click.get_current_context(silent=True)
    loaded = context.find_object(Settings) if context else None
    given = command_line_overrides(context) if context else {}
    return (loaded or Settings.from_env()).replace(**given).replace(**overrides)


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (the ``--json`` output of every command)."""
    click.echo(json.dumps(data, indent=2, default=str))
