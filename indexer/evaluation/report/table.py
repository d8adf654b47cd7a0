"""The plain-text table ``medsearch eval`` prints: a row per figure, a column per index."""

from __future__ import annotations

from ...records import encoder_display_name, random_weights_warning
from ..results import Evaluation, Figures, IndexResult, Interval
from ..tasks import TASKS

#: the figures the per-group rows show, one per task
BREAKDOWN_FIGURES = (
    ("text_to_image", "R@10"),
    ("image_to_image", "mAP@10"),
    ("zero_shot", "accuracy"),
)


def titles(evaluation: Evaluation) -> dict[str, str]:
    """How each task is titled in the table and the report (naming the run's label field)."""
    return {task.name: task.title.format(label=evaluation.settings.label_field) for task in TASKS}


def index_heading(result: IndexResult) -> str:
    """An index's column heading: its name and the model a user knows it by."""
    return f"{result.index} ({encoder_display_name(result.encoder, result.model)})"


def interval_note(evaluation: Evaluation) -> str:
    """What a value in the table is: with its bootstrap interval, or alone (``--bootstrap 0``)."""
    if evaluation.settings.bootstrap:
        return "values: figure [95% bootstrap interval over queries]"
    return "values: figure (no intervals: --bootstrap 0)"


def random_weight_warnings(evaluation: Evaluation) -> list[str]:
    """One warning line per index whose model has random weights."""
    return [random_weights_warning(r.index) for r in evaluation.indexes if r.random_weights]


def skipped_notes(evaluation: Evaluation) -> list[str]:
    """One line per task skipped on an index, saying why."""
    title = titles(evaluation)
    return [
        f"skipped on {result.index}: {title[skipped.task]}, because {skipped.reason}"
        for result in evaluation.indexes
        for skipped in result.skipped
    ]


def ranking_notes(evaluation: Evaluation) -> list[str]:
    """What the rankings counted: groups instead of images (``--collapse``), and where image ->
    image left each query's own series out."""
    notes = []
    collapse = evaluation.settings.collapse
    if collapse:
        notes.append(
            f"text -> image and image -> image rank groups of {collapse!r}, not images: a group "
            "places where its best image ranks and is relevant when any of its images is"
        )
    for result in evaluation.indexes:
        if result.own_series_excluded:
            notes.append(f"image -> image on {result.index}: each query's own series left out")
    if not evaluation.settings.exclude_own_series:
        notes.append("image -> image keeps each query's own series (--include-own-series)")
    return notes


def format_value(value: float | None, interval: Interval | None) -> str:
    if value is None:
        return "-"
    text = f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    if interval and interval[0] is not None and interval[1] is not None:
        text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    return text


def format_figure(figures: Figures | None, name: str) -> str:
    """``name``'s value and interval in ``figures``; ``-`` where there is none."""
    if figures is None:
        return "-"
    return format_value(figures.value(name), figures.interval(name))


def render_table(evaluation: Evaluation) -> str:
    """The table of every task, flagged figures marked with ``*``, then notes and warnings."""
    results = evaluation.indexes
    flagged = {d.figure for d in evaluation.differences}
    lines = list(random_weight_warnings(evaluation))
    title = titles(evaluation)
    rows: list[list[str]] = [["figure"] + [index_heading(r) for r in results]]
    for task in TASKS:
        present = [r.tasks[task.name] for r in results if task.name in r.tasks]
        if not present:
            continue
        rows.append([f"{title[task.name]}  (n = {', '.join(str(f.n) for f in present)})"])
        for name in present[0].figures:
            mark = "*" if f"{task.name}.{name}" in flagged else ""
            rows.append(
                [f"  {name}{mark}"] + [format_figure(r.tasks.get(task.name), name) for r in results]
            )
    rows += _breakdown_rows(results, title)
    lines += _aligned(rows)
    for result in results:
        if result.served is not None:
            changes = ", ".join(
                f"{task}.{name} {value:+.3f}"
                for task, figures in result.served.difference.items()
                for name, value in figures.items()
                if value is not None
            )
            lines += ["", f"served minus exact, {result.index}: {changes}"]
    notes = ranking_notes(evaluation) + skipped_notes(evaluation)
    if notes:
        lines += ["", *notes]
    if len(results) > 1:
        lines += ["", "* intervals of two indexes do not overlap:"]
        lines += [f"  {d.figure}: {d.better} > {d.worse}" for d in evaluation.differences]
        if not evaluation.settings.bootstrap:
            lines[-1] = "no intervals computed (--bootstrap 0): differences are not tested"
        elif not evaluation.differences:
            lines[-1] = "no difference between the indexes lies outside the 95% intervals"
    lines += ["", interval_note(evaluation)]
    return "\n".join(lines)


def _breakdown_rows(results: list[IndexResult], title: dict[str, str]) -> list[list[str]]:
    with_groups = [r.by for r in results if r.by is not None]
    if not with_groups:
        return []
    field = with_groups[0].field
    values = sorted({v for by in with_groups for v in by.values})
    rows = [[f"per {field}: " + ", ".join(f"{title[t]} {k}" for t, k in BREAKDOWN_FIGURES)]]
    for value in values:
        row = [f"  {value}"]
        for result in results:
            row.append(
                " / ".join(
                    format_value(_group_value(result, value, task, name), None)
                    for task, name in BREAKDOWN_FIGURES
                )
            )
        rows.append(row)
    return rows


def _group_value(result: IndexResult, value: str, task: str, name: str) -> float | None:
    figures = None if result.by is None else result.by.figures(value, task)
    return None if figures is None else figures.value(name)


def _aligned(rows: list[list[str]]) -> list[str]:
    # task titles (one cell) do not widen the first column
    widths = [max(len(r[i]) for r in rows if len(r) > 1) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
