"""``medsearch duplicates``: near-identical images across an index, and train/test leakage."""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path
from typing import Any

import click

from ..errors import InvalidRequestError
from .options import SettingsProblem, echo_json, reports_errors

#: clusters the text output lists (--json, --csv and --html hold every one)
SHOWN = 20


@click.command()
@click.argument("index_dir", type=click.Path(path_type=Path))
@click.option(
    "--threshold",
    type=click.FloatRange(-1.0, 1.0),
    metavar="COS",
    help="Cosine at or above which two images are near-duplicates [default: the index's own, "
    "see `medsearch info`].",
)
@click.option(
    "--across",
    metavar="FIELD",
    help="Only clusters holding several values of FIELD (split: train/test leakage), with "
    "counts per pair of values.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one row per clustered image to this CSV file.",
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as one HTML file.",
)
@reports_errors
def duplicates(
    index_dir: Path,
    threshold: float | None,
    across: str | None,
    as_json: bool,
    csv_out: Path | None,
    html_out: Path | None,
) -> None:
    """Clusters of near-identical images over a whole index, largest and closest first.

    Exact copies (the same sha256) are always clustered. Without --threshold the index's own
    threshold is used, measured from how close its images usually are.

    Example:

        medsearch duplicates data/index --across split --json
    """
    from ..search.duplicate_finder import DuplicateFinder
    from ..storage.folder import IndexFolder

    folder = IndexFolder(index_dir)
    folder.read_info()
    with folder.open_store() as store:
        try:
            report = DuplicateFinder(folder, store).report(threshold, across)
        except InvalidRequestError as exc:
            raise SettingsProblem(exc.message) from exc
        ids = [i for cluster in report.clusters for i in cluster.ids]
        paths = {i: record.path for i, record in store.get_many(ids).items()}
    data = report.to_dict()
    for cluster in data["clusters"]:
        cluster["paths"] = [paths.get(i) for i in cluster["ids"]]
    if csv_out is not None:
        csv_out.write_text(csv_text(data), encoding="utf-8")
    if html_out is not None:
        html_out.write_text(html_text(data), encoding="utf-8")
    if as_json:
        echo_json(data)
        return
    click.echo(summary_line(data))
    for pair in data["leakage"]:
        first, second = pair["values"]
        click.echo(f"  {first} / {second}: {pair['clusters']} clusters, {pair['images']} images")
    for number, cluster in enumerate(data["clusters"][:SHOWN], start=1):
        click.echo(f"{number:>3}. {cluster['size']} images, cosine {cluster['closest']:.4f}")
        for image_id, path in zip(cluster["ids"], cluster["paths"], strict=True):
            click.echo(f"     #{image_id}  {path}")
    if len(data["clusters"]) > SHOWN:
        click.echo(f"... and {len(data['clusters']) - SHOWN} more clusters (see --json)")


def summary_line(data: dict[str, Any]) -> str:
    """``3 clusters (7 images) of 40 at cosine >= 0.9990 (adaptive), exact, 0.1 s``."""
    spanning = f", spanning several values of {data['across']}" if data["across"] else ""
    return (
        f"{data['cluster_count']} clusters ({data['images_in_clusters']} images) of "
        f"{data['images']} at cosine >= {data['threshold']:.4f} ({data['threshold_rule']})"
        f"{spanning}; {data['method']}, {data['seconds']:.1f} s"
    )


def csv_text(data: dict[str, Any]) -> str:
    """One row per clustered image: cluster number, size, closest cosine, id, path."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["cluster", "size", "closest", "id", "path"])
    for number, cluster in enumerate(data["clusters"], start=1):
        for image_id, path in zip(cluster["ids"], cluster["paths"], strict=True):
            writer.writerow([number, cluster["size"], cluster["closest"], image_id, path])
    return out.getvalue()


def html_text(data: dict[str, Any]) -> str:
    """The report as one page that opens offline: the summary, leakage pairs and clusters."""
    rows = "".join(
        f"<tr><td>{html.escape(str(p['values'][0]))}</td><td>{html.escape(str(p['values'][1]))}"
        f"</td><td>{p['clusters']}</td><td>{p['images']}</td></tr>"
        for p in data["leakage"]
    )
    leakage = (
        f"<table><tr><th>value</th><th>value</th><th>clusters</th><th>images</th></tr>{rows}"
        "</table>"
        if rows
        else ""
    )
    clusters = "".join(
        f"<section><h2>{n}. {c['size']} images, cosine {c['closest']:.4f}</h2><ul>"
        + "".join(
            f"<li>#{i} {html.escape(str(p))}</li>"
            for i, p in zip(c["ids"], c["paths"], strict=True)
        )
        + "</ul></section>"
        for n, c in enumerate(data["clusters"], start=1)
    )
    title = "MedSearch duplicates"
    raw = html.escape(json.dumps({k: v for k, v in data.items() if k != "clusters"}))
    return (
        f"<!doctype html><meta charset='utf-8'><title>{title}</title><h1>{title}</h1>"
        f"<p>{html.escape(summary_line(data))}</p>{leakage}{clusters}"
        f"<script type='application/json' id='summary'>{raw}</script>"
    )
