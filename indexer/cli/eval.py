"""``medsearch eval``: how well indexes retrieve, measured on their own labelled images."""

from __future__ import annotations

from pathlib import Path

import click

from .options import echo_json, reports_errors, settings_from
from .setting_options import setting_options


@click.command()
@click.argument("index_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--label-field",
    help="Metadata field with each image's class (image -> image relevance, zero-shot). "
    "[default: label; unnamed, an index without it skips those tasks]",
)
@click.option(
    "--group-field",
    help="Field naming each image's case or patient: its images are "
    "relevant to each other's captions, and excluded in the leakage-free variant.",
)
@click.option(
    "--collapse",
    metavar="FIELD",
    help="Rank groups of this field (a series, a case) instead of images in text -> image and "
    "image -> image: a group places where its best image ranks and counts as relevant when any "
    "of its images is. Not with --served.",
)
@click.option(
    "--exclude-own-series/--include-own-series",
    default=True,
    show_default=True,
    help="Leave each query's own series out of image -> image where the index has series keys "
    "(series_key): neighbouring slices are near copies of the query.",
)
@click.option(
    "--exclude-duplicates",
    type=click.FloatRange(-1.0, 1.0),
    metavar="COS",
    help="Leakage-free image -> image also leaves out each query's near-duplicates: its "
    "cluster of images within this cosine (see `medsearch duplicates`).",
)
@click.option(
    "--caption-field",
    help="Field with each image's caption (text <-> image queries). "
    "[default: caption; unnamed, an index without captions skips those tasks]",
)
@click.option("--by", help="Also report every figure per value of this field (e.g. modality).")
@click.option(
    "--level",
    default="image",
    show_default=True,
    help="The units retrieved: image, or series, study or group:FIELD, each group represented "
    "by its mean vector with its images' majority label and caption.",
)
@click.option(
    "--mode",
    "modes",
    default="dense",
    show_default=True,
    metavar="MODE[,MODE...]",
    help="How text -> image ranks, each mode a row of its own: dense, keyword (BM25 over the "
    "images' words, the query's own caption left out) or hybrid (both fused), e.g. "
    "dense,keyword,hybrid.",
)
@click.option(
    "--queries",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of judgments: query,image[,grade] (image: indexed path or id).",
)
@click.option(
    "--bootstrap",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the 95% intervals (0: no intervals).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option(
    "--served",
    is_flag=True,
    help="Also measure what the served ANN index returns, and the difference.",
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report to this file.",
)
@setting_options("device", "runtime", "precision", "onnx_cache", "trust_remote_code")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@reports_errors
def eval_command(
    index_dirs: tuple[Path, ...],
    label_field: str | None,
    group_field: str | None,
    collapse: str | None,
    exclude_own_series: bool,
    exclude_duplicates: float | None,
    caption_field: str | None,
    by: str | None,
    level: str,
    modes: str,
    queries: Path | None,
    bootstrap: int,
    seed: int,
    served: bool,
    html_out: Path | None,
    as_json: bool,
) -> None:
    """Measure retrieval quality of one or more indexes on their own images and metadata.

    Text -> image and image -> text recall (captions), image -> image precision (same label),
    zero-shot classification (label field), nDCG on judged queries; each figure with a seeded
    bootstrap 95% interval. Several indexes of the same images give a column each.

    Example:

        medsearch eval data/index --by modality --html report.html
    """
    from ..evaluation.options import EvalOptions
    from ..evaluation.report.document import evaluation_document
    from ..evaluation.report.html import write_report
    from ..evaluation.report.table import random_weight_warnings, render_table, skipped_notes
    from ..evaluation.run import evaluate

    settings = settings_from()
    options = EvalOptions(
        label_field=label_field,
        group_field=group_field,
        collapse=collapse,
        exclude_own_series=exclude_own_series,
        exclude_duplicates=exclude_duplicates,
        caption_field=caption_field,
        by=by,
        level=level,
        modes=tuple(mode.strip() for mode in modes.split(",") if mode.strip()),
        queries=queries,
        bootstrap=bootstrap,
        seed=seed,
        served=served,
        settings=settings,
    )
    evaluation = evaluate(index_dirs, options)
    if html_out is not None:
        write_report(evaluation, html_out)
    if as_json:
        for warning in random_weight_warnings(evaluation) + skipped_notes(evaluation):
            click.echo(warning, err=True)
        echo_json(evaluation_document(evaluation))
        return
    click.echo(render_table(evaluation))
    if html_out is not None:
        click.echo(f"report written to {html_out}")
