"""The plain-text table ``medsearch eval`` prints: a row per figure, a column per index."""

from __future__ import annotations

from typing import Any

from ..run import SECTIONS

#: how each section is titled in the table and the report
TITLES = {
    "text_to_image": "text -> image",
    "image_to_text": "image -> text",
    "image_to_image": "image -> image (same label)",
    "image_to_image_leakage_free": "image -> image, own group excluded",
    "zero_shot": "zero-shot classification",
    "queries": "judged queries",
}
_SKIP = {"n", "labels", "confusion_matrix"}


def random_weight_warnings(data: dict[str, Any]) -> list[str]:
    """One warning line per index whose model has random weights."""
    return [
        f"WARNING: {entry['index']} was embedded by a model with random weights: "
        "its figures say nothing about retrieval quality"
        for entry in data["indexes"]
        if entry["random_weights"]
    ]


def figure_keys(figures: dict[str, Any]) -> list[str]:
    return [k for k in figures if not k.endswith("_ci") and k not in _SKIP]


def format_value(value: float | None, interval: list[float | None] | None) -> str:
    if value is None:
        return "-"
    text = f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    if interval and interval[0] is not None and interval[1] is not None:
        text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    return text


def render_table(data: dict[str, Any]) -> str:
    """The table of every section, flagged figures marked with ``*``, then the warnings."""
    entries = data["indexes"]
    flagged = {d["figure"] for d in data["differences"]}
    lines = list(random_weight_warnings(data))
    rows: list[list[str]] = [["figure"] + [f"{e['index']} ({e['encoder']})" for e in entries]]
    for section in SECTIONS:
        present = [e for e in entries if e.get(section)]
        if not present:
            continue
        rows.append(
            [f"{TITLES[section]}  (n = {', '.join(str(e[section]['n']) for e in present)})"]
        )
        for key in figure_keys(present[0][section]):
            mark = "*" if f"{section}.{key}" in flagged else ""
            row = [f"  {key}{mark}"]
            for entry in entries:
                figures = entry.get(section) or {}
                row.append(format_value(figures.get(key), figures.get(f"{key}_ci")))
            rows.append(row)
    rows += _breakdown_rows(entries)
    lines += _aligned(rows)
    for entry in entries:
        served = entry.get("served")
        if served:
            changes = ", ".join(
                f"{section}.{key} {value:+.3f}"
                for section, figures in served["difference"].items()
                for key, value in figures.items()
                if value is not None
            )
            lines += ["", f"served minus exact, {entry['index']}: {changes}"]
    if len(entries) > 1:
        lines += ["", "* intervals of two indexes do not overlap:"]
        lines += [f"  {d['figure']}: {d['better']} > {d['worse']}" for d in data["differences"]]
        if not data["settings"]["bootstrap"]:
            lines[-1] = "no intervals computed (--bootstrap 0): differences are not tested"
        elif not data["differences"]:
            lines[-1] = "no difference between the indexes lies outside the 95% intervals"
    lines += ["", "values: figure [95% bootstrap interval over queries]"]
    return "\n".join(lines)


#: the figures the per-group rows show, one per task
BREAKDOWN_FIGURES = (
    ("text_to_image", "R@10"),
    ("image_to_image", "mAP@10"),
    ("zero_shot", "accuracy"),
)


def _breakdown_rows(entries: list[dict[str, Any]]) -> list[list[str]]:
    with_groups = [e["by"] for e in entries if "by" in e]
    if not with_groups:
        return []
    field = with_groups[0]["field"]
    values = sorted({v for by in with_groups for v in by["values"]})
    rows = [[f"per {field}: " + ", ".join(f"{TITLES[s]} {k}" for s, k in BREAKDOWN_FIGURES)]]
    for value in values:
        row = [f"  {value}"]
        for entry in entries:
            group = entry.get("by", {}).get("values", {}).get(value, {})
            row.append(
                " / ".join(
                    format_value((group.get(s) or {}).get(k), None) for s, k in BREAKDOWN_FIGURES
                )
            )
        rows.append(row)
    return rows


def _aligned(rows: list[list[str]]) -> list[str]:
    # section titles (one cell) do not widen the first column
    widths = [max(len(r[i]) for r in rows if len(r) > 1) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
