"""``medsearch export``: an index's vectors and metadata for other programs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import InvalidRequestError
from ..export import DEFAULT_FORMAT, FORMATS
from ..export.clip_retrieval import PART_ROWS
from .options import SettingsProblem, echo_json, reports_errors
from .search import case_hint, filter_option, filters_given


@click.command("export")
@click.argument("index_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="File or folder to write (must not exist).",
)
@click.option(
    "--format",
    "format_name",
    type=click.Choice(list(FORMATS)),
    default=DEFAULT_FORMAT,
    show_default=True,
    help="; ".join(f"{f.name}: {f.description}" for f in FORMATS.values()) + ".",
)
@filter_option
@click.option(
    "--part-rows",
    type=click.IntRange(min=1),
    default=PART_ROWS,
    show_default=True,
    help="Most images in one part of the clip-retrieval layout.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@reports_errors
def export(
    index_dir: Path,
    out: Path,
    format_name: str,
    filters: tuple[str, ...],
    part_rows: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Write the vectors and metadata of an index, or of the images --filter selects.

    Each image leaves with its id, its path relative to the corpus (image_path), its caption,
    its metadata fields and its vector: what a search result shows, and never a DICOM
    identifier or a pixel. The output is written aside and renamed into place when whole; an
    existing OUT is never overwritten. Filters are read as `medsearch search` reads them.

    Example:

        medsearch export data/index --out data/export --filter modality=CT
    """
    from ..export import export_index

    parsed_filters = filters_given(filters)
    bar = _ProgressBar(disabled=quiet)
    try:
        report = export_index(
            index_dir, out, format_name, parsed_filters, part_rows=part_rows, progress=bar
        )
    except InvalidRequestError as exc:
        # an unknown filter field, or a value its field's values cannot equal
        raise SettingsProblem(exc.message) from exc
    finally:
        bar.close()
    if as_json:
        echo_json(report.to_dict())
        return
    if report.count == 0:
        click.echo("no image matches" + case_hint(report.suggestions) + "; nothing exported")
    click.echo(
        f"exported {report.count} images ({report.dim}-d vectors, {report.format}) to "
        f"{report.out} in {report.seconds:.1f} s"
    )


class _ProgressBar:
    """tqdm progress on stderr, as `medsearch index` shows it."""

    def __init__(self, *, disabled: bool) -> None:
        self._disabled = disabled
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._disabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc="exporting", unit=" images", leave=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
