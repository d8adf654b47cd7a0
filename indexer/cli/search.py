"""``medsearch search``: query an index from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import InvalidRequestError
from ..records import GroupSummary, Hit, SearchResult
from ..search.modes import DENSE, MODES
from .feedback_options import feedback_options, query_parts_of, steering_given
from .options import SettingsProblem, echo_json, reports_errors, settings_from
from .setting_options import setting_options

#: ``--filter FIELD=VALUE``, read by :func:`filters_given`
filter_option = click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Keep images whose FIELD equals VALUE (repeat; same field twice = any of).",
)


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
@filter_option
@click.option("--min-score", type=float, help="Drop results scoring below this.")
@click.option(
    "--min-relative",
    type=click.FloatRange(0, 1),
    help="Drop results scoring below this share of the top result's score (0 to 1).",
)
@click.option(
    "--min-z",
    type=float,
    help="Drop results whose z against the scores unrelated queries get on the index is below "
    "this (2: strong matches only).",
)
@click.option(
    "--collapse",
    metavar="FIELD",
    help="One result per value of this metadata field (a series, a study, a case), ranked by "
    "its best image; -k and --offset count groups.",
)
@click.option(
    "--level",
    default="image",
    show_default=True,
    help="What a result is: image, series, study or group:FIELD (one result per group, "
    "scored by the group's mean vector).",
)
@click.option(
    "--group",
    metavar="VALUE",
    help="At a group level, find the groups most similar to this one (a series_key ...).",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default=DENSE,
    show_default=True,
    help="How --text ranks images: by meaning (dense), by its words in captions and text "
    "fields (keyword, BM25), or both fused (hybrid).",
)
@click.option(
    "--dedupe",
    type=click.FloatRange(-1.0, 1.0),
    metavar="COS",
    help="Fold a result into a higher-ranked one within this cosine, listed as its copies "
    "(exact copies are always folded); -k and --offset count the results left.",
)
@feedback_options
@setting_options("device", "runtime", "precision", "onnx_cache", "trust_remote_code")
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
    min_relative: float | None,
    min_z: float | None,
    collapse: str | None,
    level: str,
    group: str | None,
    mode: str,
    dedupe: float | None,
    minus_texts: tuple[str, ...],
    like_ids: tuple[int, ...],
    unlike_ids: tuple[int, ...],
    as_json: bool,
) -> None:
    """Search an index by text, image file or indexed id. The model comes from the index.

    With --level series (study, group:FIELD), results are series (studies, groups), each shown
    by its representative image; --group VALUE finds the series most similar to one.

    --minus-text, --like-id and --unlike-id steer the query: more like some images, less like
    others, with --text, --image and --id weighing +1 and each negative option -1 (the query
    vector is the normalised weighted sum of theirs).

    Example:

        medsearch search data/index --text "chest X-ray" -k 5 --filter modality=CR

        medsearch search data/index --text "chest X-ray" --minus-text "lateral" --unlike-id 40
    """
    from ..imaging.decode import load_image
    from ..records import random_weights_warning
    from ..search.retriever import Retriever

    steering = {"minus_texts": minus_texts, "like_ids": like_ids, "unlike_ids": unlike_ids}
    steered = steering_given(steering)
    if steered and group is not None:
        raise SettingsProblem("--group is a query of its own: give it without steering options")
    if not steered:
        check_one_query(text, image, image_id, group)
    parsed_filters = filters_given(filters)
    settings = settings_from(index_dir=index_dir)
    retriever = Retriever.open(settings)
    random_weights = retriever.info().encoder.random_weights
    try:
        query_image = None
        if image:
            decoded = load_image(
                image, max_pixels=settings.max_image_pixels, draft_size=retriever.encoder.draft_size
            )
            query_image = decoded.image
        query: dict[str, Any] = {"text": text, "image": query_image, "image_id": image_id}
        if steered:
            query = {"parts": query_parts_of(steering, **query)}
        result = retriever.search(
            **query,
            k=k,
            offset=offset,
            filters=parsed_filters,
            min_score=min_score,
            min_relative=min_relative,
            min_z=min_z,
            collapse=collapse,
            level=level,
            group=group,
            mode=mode,
            dedupe=dedupe,
        )
    except InvalidRequestError as exc:
        # what is left: an unknown filter or collapse field, or a value its field cannot equal
        raise SettingsProblem(exc.message) from exc
    finally:
        retriever.close()
    if random_weights:  # with the results, not before an error about the query
        click.echo(random_weights_warning(index_dir), err=True)
    if as_json:
        echo_json(result.to_dict())
        return
    if not result.hits:
        click.echo("no image matches" + case_hint(result.suggestions) + cut_hint(result))
    for rank, hit in enumerate(result.hits, start=offset + 1):
        caption = (hit.caption or "")[:80]
        click.echo(f"{rank:>3}. {hit.score:.4f}{standing(hit)}  #{hit.id}  {hit.path}  {caption}")
        if hit.matched_terms is not None:
            click.echo(f"     {matched_line(hit)}")
        if hit.group is not None:
            click.echo(f"     {group_line(hit.group)}")
        if hit.copies:
            listed = ", ".join(f"#{i} {s:.4f}" for i, s in hit.copies)
            click.echo(f"     +{len(hit.copies)} copies: {listed}")
    t = result.timings_ms
    counted = "groups" if collapse or level != "image" else "eligible"
    click.echo(
        f"({result.total} {counted}; embed {t['embed']:.1f} ms, search {t['search']:.1f} ms)"
    )


def standing(hit: Hit) -> str:
    """`` z 2.31 p99.8`` (empty for an index without a null distribution)."""
    if hit.z is None or hit.percentile is None:
        return ""
    return f" z {hit.z:5.2f} p{hit.percentile:.1f}"


def cut_hint(result: SearchResult) -> str:
    """``; 10 results were below the cut-off`` when a cut-off emptied the page."""
    if not result.below_cut_off:
        return ""
    return f"; {result.below_cut_off} results were below the cut-off"


def group_line(group: GroupSummary) -> str:
    """``series=ge: 28 images, 27 matched; next #12 0.9712, #13 0.9650``."""
    line = f"{group.field}={group.value}: {group.size} images, {group.matched} matched"
    if group.next:
        line += "; next " + ", ".join(f"#{i} {s:.4f}" for i, s in group.next)
    return line


def matched_line(hit: Hit) -> str:
    """``matched: pneumonia, chest`` (or that the image holds none of the words)."""
    return "matched: " + (", ".join(hit.matched_terms or ()) or "no query word")


def check_one_query(
    text: str | None, image: Path | None, image_id: int | None, group: str | None = None
) -> None:
    """Exactly one of ``--text``, ``--image``, ``--id``, ``--group``, and a text that says
    something."""
    options = (("--text", text), ("--image", image), ("--id", image_id))
    given = [option for option, value in options if value is not None]
    if group is not None and given:
        raise SettingsProblem(f"--group is a query of its own: give it without {given[0]}")
    if group is None and len(given) != 1:
        raise SettingsProblem(
            "give exactly one of --text, --image, --id"
            + (f", not {' and '.join(given)}" if given else " (or --group at a group level)")
        )
    if text is not None and not text.strip():
        raise SettingsProblem("--text needs words to search for")


def case_hint(suggestions: dict[str, list[str]]) -> str:
    """``; filter values are exact: did you mean --filter modality=CT?`` (empty without any)."""
    if not suggestions:
        return ""
    options = [
        f"--filter {field}={value}" for field, values in suggestions.items() for value in values
    ]
    return f"; filter values are exact: did you mean {' or '.join(options)}?"


def filters_given(pairs: tuple[str, ...]) -> dict[str, Any] | None:
    """The filters of ``--filter`` options (:func:`parse_filters`); a malformed one is a usage
    error (exit status 2)."""
    try:
        return parse_filters(pairs)
    except InvalidRequestError as exc:
        raise SettingsProblem(exc.message) from exc


def parse_filters(pairs: tuple[str, ...]) -> dict[str, Any] | None:
    """``("modality=CT", "label=a", "label=b")`` -> ``{"modality": "CT", "label": ["a", "b"]}``.

    Values stay text: the index reads them as the type of the values their field holds.
    """
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
