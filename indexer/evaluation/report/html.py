"""The ``--html`` report: one self-contained file, charts drawn here as inline SVG.

No script, no external asset: thumbnails are base64 JPEGs rendered by
:func:`indexer.imaging.decode.load_image`, so the file opens offline and can be mailed around. Every
chart is an ``<svg class="chart" data-chart="NAME">`` with one ``rect.bar`` per value (its value
in ``data-value``) and one ``line.whisker`` per interval; a random-weight index puts a
``.banner.random-weights`` at the top. The browser test relies on these names.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from PIL import Image

from ...errors import MedSearchError
from ...imaging.decode import load_image
from ...records import encoder_display_name
from ...storage.atomic import write_atomic
from ..results import Evaluation, Example, Figures, IndexResult, ZeroShotFigures
from ..tasks import TASKS
from .table import format_figure, random_weight_warnings, ranking_notes, skipped_notes, titles

#: a bar group of a chart: its label, and its figures and figure name per index
BarGroup = tuple[str, Callable[[IndexResult], Figures | None], str]

THUMBNAIL = 96
PALETTE = ("#1f6feb", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285")
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#1d2127}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.banner{background:#fff3bf;border:1px solid #f08c00;padding:10px 14px;font-weight:600}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #eee;
text-align:left}td.v{font-variant-numeric:tabular-nums}.flag{color:#c92a2a;font-weight:700}
.legend span{display:inline-block;margin-right:16px}.swatch{display:inline-block;width:12px;
height:12px;margin-right:5px;vertical-align:-1px}svg text{font:11px system-ui,sans-serif}
.examples .query{margin:14px 0 4px;font-weight:600}
.hits{display:flex;gap:8px;align-items:flex-start}
.hit{width:100px;font-size:11px;word-break:break-all}.hit img,.hit .none{width:96px;height:96px;
object-fit:contain;background:#111;border:3px solid #ccc;display:block}
.hit.relevant img,.hit.relevant .none{border-color:#2b8a3e}.none{color:#aaa;text-align:center;
line-height:96px}.row-label{width:130px;font-size:12px;color:#555}.note{color:#555}
.row{display:flex;flex-wrap:wrap;gap:8px 40px;align-items:flex-start}#figures{max-width:500px}
"""


def write_report(evaluation: Evaluation, out: Path) -> None:
    """Write the report of ``evaluation`` to ``out`` (atomically)."""
    write_atomic(Path(out), render_report(evaluation).encode("utf-8"), durable=False)


def render_report(evaluation: Evaluation) -> str:
    entries = evaluation.indexes
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">']
    parts += ["<title>MedSearch evaluation</title>", f"<style>{_STYLE}</style></head><body>"]
    parts.append("<h1>MedSearch evaluation</h1>")
    for warning in random_weight_warnings(evaluation):
        parts.append(f'<div class="banner random-weights" role="alert">{_e(warning)}</div>')
    for note in ranking_notes(evaluation) + skipped_notes(evaluation):
        parts.append(f'<p class="note skipped">{_e(note)}</p>')
    parts.append(_legend(entries))
    parts.append('<div class="row">')
    parts.append(_summary_table(evaluation))
    intervals = ", 95% intervals" if evaluation.settings.bootstrap else ""
    parts.append(f'<div><section id="retrieval"><h2>Recall@K{intervals}</h2>')
    parts.append(_bar_chart("recall", _chart_groups("recall"), entries))
    parts.append("</section>")
    parts.append('<section id="image-to-image"><h2>Image → image and zero-shot</h2>')
    parts.append(_bar_chart("map", _chart_groups("map"), entries))
    parts.append("</section></div></div>")
    if any(e.by is not None for e in entries):
        parts.append(_breakdown(entries, titles(evaluation)))
    parts.append(_confusion(entries))
    parts.append(_examples([e.index for e in entries], [e.examples for e in entries]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _chart_groups(chart: str) -> list[BarGroup]:
    """The bar groups of ``chart``: each figure of each task the chart shows."""
    return [
        (f"{task.short} {name.replace('_', ' ')}", _task_figures(task.name), name)
        for task in TASKS
        if task.chart == chart
        for name in task.chart_figures
    ]


def _task_figures(task: str) -> Callable[[IndexResult], Figures | None]:
    return lambda result: result.tasks.get(task)


def _legend(entries: list[IndexResult]) -> str:
    items = [
        f'<span><i class="swatch" style="background:{color}"></i>{_e(e.index)} '
        f"({_e(encoder_display_name(e.encoder, e.model))}, {_e(e.model)}, {e.images} images)"
        "</span>"
        for color, e in zip(PALETTE * 4, entries, strict=False)
    ]
    return f'<p class="legend">{"".join(items)}</p>'


def _summary_table(evaluation: Evaluation) -> str:
    entries = evaluation.indexes
    flagged = {d.figure for d in evaluation.differences}
    title = titles(evaluation)
    head = "".join(f"<th>{_e(e.index)}</th>" for e in entries)
    rows = [f'<section id="figures"><h2>Figures</h2><table><tr><th>figure</th>{head}</tr>']
    for task in TASKS:
        present = [e.tasks[task.name] for e in entries if task.name in e.tasks]
        if not present:
            continue
        counts = ", ".join(str(f.n) for f in present)
        rows.append(
            f'<tr><th colspan="{len(entries) + 1}">{_e(title[task.name])} (n = {counts})</th></tr>'
        )
        for key in present[0].figures:
            mark = ' <span class="flag">*</span>' if f"{task.name}.{key}" in flagged else ""
            cells = "".join(
                f'<td class="v">{_e(format_figure(e.tasks.get(task.name), key))}</td>'
                for e in entries
            )
            rows.append(f"<tr><td>{_e(key)}{mark}</td>{cells}</tr>")
    rows.append("</table>")
    if evaluation.settings.bootstrap:
        note = "the figure and its 95% bootstrap interval over queries. <b>*</b>: the intervals "
        note += "of two indexes do not overlap."
    else:
        note = "the figure alone (--bootstrap 0: no intervals, differences not tested)."
    rows.append(f'<p class="note">Each value: {note}</p></section>')
    return "\n".join(rows)


def _value(figures: Figures | None, key: str) -> float | None:
    return None if figures is None else figures.value(key)


def _bar_chart(name: str, groups: list[BarGroup], entries: list[IndexResult]) -> str:
    """Grouped bars on a 0..1 axis: one group per figure, one bar per index, whiskers = CI."""
    groups = [g for g in groups if any(_value(g[1](e), g[2]) is not None for e in entries)]
    bar, gap, left, top, height = 16, 20, 44, 12, 220
    group_width = bar * len(entries) + gap
    width = left + group_width * len(groups) + 110
    label_space = 110
    full_height = top + height + label_space
    svg = [
        f'<svg class="chart" data-chart="{name}" width="{width}" height="{full_height}"'
        f' viewBox="0 0 {width} {full_height}" role="img">'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + height * (1 - tick)
        svg.append(
            f'<line x1="{left}" x2="{width - 100}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
        )
        svg.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for g, (label, figures_of, key) in enumerate(groups):
        x0 = left + g * group_width + gap / 2
        for i, (color, entry) in enumerate(zip(PALETTE * 4, entries, strict=False)):
            figures = figures_of(entry)
            value = _value(figures, key)
            if figures is None or value is None:
                continue
            x = x0 + i * bar
            y = top + height * (1 - value)
            svg.append(
                f'<rect class="bar" data-index="{i}" data-value="{value}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{bar - 2}" height="{height * value:.1f}" fill="{color}">'
                f"<title>{_e(entry.index)}: {_e(label)} = {value:.3f}</title></rect>"
            )
            interval = figures.interval(key)
            if interval and interval[0] is not None and interval[1] is not None:
                cx = x + (bar - 2) / 2
                y_lo, y_hi = (top + height * (1 - v) for v in (interval[0], interval[1]))
                svg.append(
                    f'<line class="whisker" x1="{cx:.1f}" x2="{cx:.1f}" y1="{y_lo:.1f}" '
                    f'y2="{y_hi:.1f}" stroke="#000" stroke-width="1.2"/>'
                )
        lx = x0 + bar * len(entries) / 2
        svg.append(
            f'<text x="{lx:.1f}" y="{top + height + 8}" transform="rotate(40 {lx:.1f} '
            f'{top + height + 8})">{_e(label)}</text>'
        )
    svg.append("</svg>")
    return "\n".join(svg)


def _breakdown(entries: list[IndexResult], title: dict[str, str]) -> str:
    breakdowns = [e.by for e in entries if e.by is not None]
    values = sorted({v for by in breakdowns for v in by.values})
    parts = [f'<section id="breakdown"><h2>Per {_e(breakdowns[0].field)}</h2><div class="row">']
    for task, key in (("text_to_image", "R@10"), ("image_to_image", "mAP@10")):
        groups: list[BarGroup] = [(value, _group_figures(value, task), key) for value in values]
        parts.append(f"<div><h3>{_e(title[task])} {_e(key)}</h3>")
        parts.append(_bar_chart(f"by-{task}", groups, entries) + "</div>")
    parts.append("</div></section>")
    return "\n".join(parts)


def _group_figures(value: str, task: str) -> Callable[[IndexResult], Figures | None]:
    return lambda result: None if result.by is None else result.by.figures(value, task)


def _confusion(entries: list[IndexResult]) -> str:
    parts = ['<section id="confusion"><h2>Zero-shot confusion matrix</h2><div class="row">']
    for color, entry in zip(PALETTE * 4, entries, strict=False):
        zero_shot = entry.tasks.get("zero_shot")
        if isinstance(zero_shot, ZeroShotFigures):
            parts.append(f'<div><h3 style="color:{color}">{_e(entry.index)}</h3>')
            parts.append(_heat_map(zero_shot) + "</div>")
    parts.append("</div></section>")
    return "\n".join(parts)


def _heat_map(zero_shot: ZeroShotFigures) -> str:
    labels, matrix = zero_shot.labels or [], zero_shot.confusion_matrix or []
    cell, left, top = 18, 200, 150
    size = len(labels) * cell
    svg = [
        f'<svg class="chart heatmap" data-chart="confusion" width="{left + size + 90}" '
        f'height="{top + size + 10}" role="img">'
    ]
    for i, label in enumerate(labels):
        y = top + i * cell + cell * 0.7
        svg.append(f'<text x="{left - 6}" y="{y:.1f}" text-anchor="end">{_e(label[:28])}</text>')
        x = left + i * cell + cell * 0.6
        svg.append(
            f'<text x="{x:.1f}" y="{top - 6}" transform="rotate(-60 {x:.1f} {top - 6})">'
            f"{_e(label[:28])}</text>"
        )
    for t, row in enumerate(matrix):
        total = sum(row) or 1
        for p, count in enumerate(row):
            share = count / total
            shade = int(255 - 200 * share)
            svg.append(
                f'<rect class="cell" data-count="{count}" '
                f'x="{left + p * cell}" y="{top + t * cell}" '
                f'width="{cell - 1}" height="{cell - 1}" fill="rgb({shade},{shade},255)">'
                f"<title>true {_e(labels[t])}, predicted {_e(labels[p])}: {count}</title></rect>"
            )
    svg.append("</svg>")
    svg.append(
        '<p class="note">Rows: true label; columns: predicted; '
        "darker: a larger share of the row.</p>"
    )
    return "\n".join(svg)


def _examples(names: list[str], examples: list[list[Example]]) -> str:
    parts = ['<section id="examples" class="examples"><h2>Example text queries</h2>']
    parts.append('<p class="note">Top results per index; a green frame marks a relevant image.</p>')
    thumbnails: dict[Path, str | None] = {}
    queries = [e.query_path for e in examples[0]] if examples else []
    for position, query_path in enumerate(queries):
        query = examples[0][position].query
        parts.append(f'<div class="example"><p class="query">&ldquo;{_e(query[:200])}&rdquo;</p>')
        for name, per_index in zip(names, examples, strict=True):
            match = [e for e in per_index if e.query_path == query_path]
            if not match:
                continue
            hits = []
            for hit in match[0].hits:
                image = _thumbnail(hit.file, thumbnails)
                picture = (
                    f'<img class="thumb" alt="{_e(hit.path)}" src="data:image/jpeg;base64,{image}">'
                    if image
                    else '<div class="none">no image</div>'
                )
                relevant = " relevant" if hit.relevant else ""
                hits.append(
                    f'<div class="hit{relevant}">{picture}{_e(hit.path)}<br>{hit.score:.3f}</div>'
                )
            parts.append(
                f'<div class="hits"><div class="row-label">{_e(name)}</div>{"".join(hits)}</div>'
            )
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _thumbnail(file: Path | None, cache: dict[Path, str | None]) -> str | None:
    """The base64 JPEG thumbnail of ``file``; None when it cannot be read any more."""
    if file is None:
        return None
    if file not in cache:
        try:
            image = load_image(file, draft_size=THUMBNAIL).image.convert("RGB")
        except (MedSearchError, OSError):
            cache[file] = None
        else:
            image.thumbnail((THUMBNAIL, THUMBNAIL), Image.Resampling.LANCZOS)
            buffer = BytesIO()
            image.save(buffer, "JPEG", quality=80)
            cache[file] = base64.b64encode(buffer.getvalue()).decode("ascii")
    return cache[file]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
