"""``medsearch model``: model folders."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..encoders.registry import architecture, registered_architectures
from .options import echo_json, reports_errors


def _architectures_help() -> str:
    """``--arch``'s help: each registered architecture and what it is."""
    described = [
        f"{name} ({architecture(name).description})" for name in registered_architectures()
    ]
    *rest, last = described
    listed = f"{', '.join(rest)} or {last}" if rest else last
    return f"Architecture to build: {listed}."


@click.group()
def model() -> None:
    """Model folders (offline copies of an encoder).

    Example:

        medsearch model init models/tiny --size tiny

        medsearch model init models/pubmedclip-tiny --arch pubmedclip --size tiny
    """


@model.command("init")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--arch",
    type=click.Choice(registered_architectures()),
    default=registered_architectures()[0],
    show_default=True,
    help=_architectures_help(),
)
@click.option(
    "--size",
    type=click.Choice(["tiny", "full"]),
    default="tiny",
    show_default=True,
    help="tiny: small widths, for tests; full: the exact architecture, for benchmarks.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the weights.")
@click.option(
    "--exist-ok", is_flag=True, help="Succeed without writing if FOLDER already holds this model."
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@reports_errors
def init(folder: Path, arch: str, size: str, seed: int, exist_ok: bool, as_json: bool) -> None:
    """Write a RANDOMLY INITIALISED model folder of ARCH's architecture, with no network.

    The folder has the layout of the model's Hub repository (config, weights, tokenizer), loads
    with the model card's own recipe and by the same code as real weights; it is marked as random
    weights everywhere it is shown.

    Example:

        medsearch model init models/tiny --size tiny

        medsearch model init models/pubmedclip-tiny --arch pubmedclip --size tiny
    """
    from ..encoders import init_model_folder
    from ..encoders.model_files import MARKER_FILE

    existing = folder / MARKER_FILE
    if exist_ok and existing.is_file():
        marker = json.loads(existing.read_text(encoding="utf-8"))
        if (marker.get("arch"), marker.get("size"), marker.get("seed")) != (arch, size, seed):
            raise click.ClickException(f"{folder} holds another model: {marker}")
        click.echo(f"{folder} already holds this random-weight {arch} model ({size})", err=True)
    else:
        marker = init_model_folder(folder, arch=arch, size=size, seed=seed)
    if as_json:
        echo_json({"folder": str(folder), **marker})
    else:
        click.echo(
            f"Wrote a random-weight {arch} model ({size}, {marker['parameters']:,} parameters) "
            f"to {folder}"
        )
