"""``medsearch search``: query an index from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import InvalidRequestError
from .options import echo_json, reports_errors, settings_from
from .setting_options import setting_options


@click.command()
@click.argument("index_dir", type=click.Path(path_type=Path))
@click.option("--text", help="Text query.")
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Image file to find similar images to (PNG, JPEG, DICOM ...).",
)
@click.option("--id", "image_id", type=int, help="Indexed image id to find similar images to.")
@click.option(
    "-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Number of results."
)
@click.option(
    "--offset", type=click.IntRange(min=0), default=0, show_default=True, help="Results to skip."
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Keep images whose FIELD equals VALUE (repeat; same field twice = any of).",
)
@click.option("--min-score", type=float, help="Drop results scoring below this.")
@setting_options("device", "precision", "trust_remote_code")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@reports_errors
def search(
    index_dir: Path,
    text: str | None,
    image: Path | None,
    image_id: int | None,
    k: int,
    offset: int,
    filters: tuple[str, ...],
    min_score: float | None,
    as_json: bool,
) -> None:
    """Search an index by text, image file or indexed id. The model comes from the index.

    Example:

        medsearch search data/index --text "chest X-ray" -k 5 --filter modality=CR
    """
    from ..imaging.decode import load_image
    from ..records import random_weights_warning
    from ..search.retriever import Retriever

    settings = settings_from(index_dir=index_dir)
    retriever = Retriever.open(settings)
    if retriever.info().encoder.random_weights:
        click.echo(random_weights_warning(index_dir), err=True)
    try:
        query_image = None
        if image:
            decoded = load_image(
                image, max_pixels=settings.max_image_pixels, draft_size=retriever.encoder.draft_size
            )
            query_image = decoded.image
        result = retriever.search(
            text=text,
            image=query_image,
            image_id=image_id,
            k=k,
            offset=offset,
            filters=parse_filters(filters),
            min_score=min_score,
        )
    finally:
        retriever.close()
    if as_json:
        echo_json(result.to_dict())
        return
    if not result.hits:
        click.echo("no image matches")
    for rank, hit in enumerate(result.hits, start=offset + 1):
        caption = (hit.caption or "")[:80]
        click.echo(f"{rank:>3}. {hit.score:.4f}  #{hit.id}  {hit.path}  {caption}")
    t = result.timings_ms
    click.echo(f"({result.total} eligible; embed {t['embed']:.1f} ms, search {t['search']:.1f} ms)")


def parse_filters(pairs: tuple[str, ...]) -> dict[str, Any] | None:
    """``("modality=CT", "label=a", "label=b")`` -> ``{"modality": "CT", "label": ["a", "b"]}``."""
    filters: dict[str, Any] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            raise InvalidRequestError(f"--filter needs FIELD=VALUE, got {pair!r}")
        field = field.strip()
        if field in filters:
            previous = filters[field]
            filters[field] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            filters[field] = value
    return filters or None
