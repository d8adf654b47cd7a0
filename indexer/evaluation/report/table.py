"""The plain-text table ``medsearch eval`` prints: a row per figure, a column per index."""

from __future__ import annotations

from ..results import Evaluation, Figures, IndexResult, Interval
from ..tasks import TASKS

#: how each task is titled in the table and the report
TITLES = {task.name: task.title for task in TASKS}

#: the figures the per-group rows show, one per task
BREAKDOWN_FIGURES = (
    ("text_to_image", "R@10"),
    ("image_to_image", "mAP@10"),
    ("zero_shot", "accuracy"),
)


def random_weight_warnings(evaluation: Evaluation) -> list[str]:
    """One warning line per index whose model has random weights."""
    return [
        f"WARNING: {result.index} was embedded by a model with random weights: "
        "its figures say nothing about retrieval quality"
        for result in evaluation.indexes
        if result.random_weights
    ]


def skipped_notes(evaluation: Evaluation) -> list[str]:
    """One line per task skipped on an index, saying why."""
    return [
        f"skipped on {result.index}: {TITLES[skipped.task]}, because {skipped.reason}"
        for result in evaluation.indexes
        for skipped in result.skipped
    ]


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
    rows: list[list[str]] = [["figure"] + [f"{r.index} ({r.encoder})" for r in results]]
    for task in TASKS:
        present = [r.tasks[task.name] for r in results if task.name in r.tasks]
        if not present:
            continue
        rows.append([f"{task.title}  (n = {', '.join(str(f.n) for f in present)})"])
        for name in present[0].figures:
            mark = "*" if f"{task.name}.{name}" in flagged else ""
            rows.append(
                [f"  {name}{mark}"] + [format_figure(r.tasks.get(task.name), name) for r in results]
            )
    rows += _breakdown_rows(results)
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
    notes = skipped_notes(evaluation)
    if notes:
        lines += ["", *notes]
    if len(results) > 1:
        lines += ["", "* intervals of two indexes do not overlap:"]
        lines += [f"  {d.figure}: {d.better} > {d.worse}" for d in evaluation.differences]
        if not evaluation.settings.bootstrap:
            lines[-1] = "no intervals computed (--bootstrap 0): differences are not tested"
        elif not evaluation.differences:
            lines[-1] = "no difference between the indexes lies outside the 95% intervals"
    lines += ["", "values: figure [95% bootstrap interval over queries]"]
    return "\n".join(lines)


def _breakdown_rows(results: list[IndexResult]) -> list[list[str]]:
    with_groups = [r.by for r in results if r.by is not None]
    if not with_groups:
        return []
    field = with_groups[0].field
    values = sorted({v for by in with_groups for v in by.values})
    rows = [[f"per {field}: " + ", ".join(f"{TITLES[t]} {k}" for t, k in BREAKDOWN_FIGURES)]]
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
