"""The ``medsearch`` command: a thin click layer over the library.

The core commands are registered here with ``add_command``. First-party front ends (``serve``
from search_api, ``bench`` from the benchmarks) are imported by name the first time the command
list is read, so the core never imports them statically and ``medsearch index`` stays light; one
that fails to load is an error. Third-party plug-ins join through the ``medsearch.commands``
entry points. Library errors become one-line messages (:mod:`indexer.cli.options`).
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import click

from ..errors import FrontEndMissingError
from ..front_ends import load_front_end
from ..settings import Settings
from .duplicates import duplicates
from .eval import eval_command
from .export import export
from .index import index, info, verify
from .model import model
from .options import reports_errors
from .search import search

log = logging.getLogger(__name__)

#: command name -> "module:attribute" of the first-party front ends
FRONT_END_COMMANDS = {
    "serve": "search_api.cli:serve",
    "bench": "medsearch_bench.cli:bench",
}
#: entry-point group through which other packages add commands
PLUGIN_GROUP = "medsearch.commands"


class _Group(click.Group):
    """Adds the front ends' commands the first time the command list is read."""

    _front_ends_loaded = False

    def _load_front_ends(self) -> None:
        if self._front_ends_loaded:
            return
        self._front_ends_loaded = True
        for name, target in FRONT_END_COMMANDS.items():
            try:
                self.add_command(load_front_end(target), name)
            except FrontEndMissingError as exc:
                raise click.ClickException(f"the '{name}' command: {exc.message}") from exc
        for entry_point in entry_points(group=PLUGIN_GROUP):
            if entry_point.name in self.commands:
                continue
            try:
                self.add_command(entry_point.load(), entry_point.name)
            except Exception:  # a broken plug-in must not take the core commands down
                log.exception("cannot load the plug-in command %r", entry_point.value)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_front_ends()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._load_front_ends()
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Group)
@click.version_option(package_name="medsearch")
@click.pass_context
@reports_errors
def cli(ctx: click.Context) -> None:
    """MedSearch: find medical images by meaning.

    Index a folder of images with a medical CLIP model, then search it by text or by image.

    Example:

        medsearch model init models/tiny --size tiny

        medsearch index data/sample --index data/index --model models/tiny

        medsearch search data/index --text "chest X-ray" -k 5
    """
    # Checked before any command runs, so a wrong MEDSEARCH_* value stops every command alike.
    ctx.obj = Settings.from_env()


for _command in (index, info, verify, search, export, model, duplicates):
    cli.add_command(_command)
cli.add_command(eval_command, "eval")


def main() -> None:  # pragma: no cover - console entry point
    cli(prog_name="medsearch")


__all__ = ["FRONT_END_COMMANDS", "cli", "main"]
