"""The ``medsearch`` command: a thin click layer over the library.

Library errors (:class:`indexer.errors.MedSearchError`) become one-line messages and exit code 1.
Front ends add their own commands (``serve``) through the ``medsearch.commands`` entry points.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar, get_args

import click

from .errors import MedSearchError
from .settings import Device, Precision, Settings

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(func: F) -> F:
    """Turn library errors into a clean message and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MedSearchError as exc:
            raise click.ClickException(exc.message) from exc

    return wrapper  # type: ignore[return-value]


def settings_from(**overrides: Any) -> Settings:
    """Settings from MEDSEARCH_* variables with the given CLI flags on top."""
    return Settings.from_env().replace(**overrides)


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
        help="Compile the image tower with torch.compile (fuses elementwise work; 20-30 s to "
        "start, needs a C++ compiler). 5% slower than the default on a 2-core CPU; try it on "
        "your hardware with `medsearch bench index`.",
    )(func)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class _Group(click.Group):
    """Adds the commands of installed front ends the first time the command list is read."""

    _plugins_loaded = False

    def _load_plugins(self) -> None:
        if not self._plugins_loaded:
            self._plugins_loaded = True
            for ep in entry_points(group="medsearch.commands"):
                if ep.name not in self.commands:
                    self.add_command(ep.load(), ep.name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugins()
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Group)
@click.version_option(package_name="medsearch")
def cli() -> None:
    """MedSearch: find medical images by meaning.

    Index a folder of images with BiomedCLIP, then search it by text or by image.

    Example:

        medsearch model init models/tiny --size tiny

        medsearch index data/sample --index data/index --model models/tiny

        medsearch search data/index --text "chest X-ray" -k 5
    """


def main() -> None:  # pragma: no cover - console entry point
    cli(prog_name="medsearch")


# Importing the command modules registers them on ``cli``; the benchmarks live in their own
# package beside the library.
from medsearch_bench.cli import bench  # noqa: E402

from . import cli_index, cli_model, cli_search  # noqa: E402,F401

cli.add_command(bench)

__all__ = [
    "cli",
    "device_option",
    "echo_json",
    "main",
    "precision_option",
    "compile_option",
    "reports_errors",
    "settings_from",
]
