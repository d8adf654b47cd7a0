"""The ``--json`` document of an evaluation, built from its typed results in this one place.

Per index: its encoder, then each task's figures (``{figure: value, figure_ci: [lo, hi], ...,
"n": queries}``), then ``by``, ``served`` and, only where a task was skipped, ``skipped``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..results import (
    Breakdown,
    Difference,
    Evaluation,
    Figures,
    IndexResult,
    RunSettings,
    Served,
    ZeroShotFigures,
)


def evaluation_document(evaluation: Evaluation) -> dict[str, Any]:
    """The JSON-ready document of ``evaluation``."""
    return {
        "indexes": [_index(result) for result in evaluation.indexes],
        "differences": [_difference(d) for d in evaluation.differences],
        "settings": _settings(evaluation.settings),
    }


def figures_document(figures: Figures) -> dict[str, Any]:
    """``{figure: value, figure_ci: [lo, hi] or null, ..., "n": queries}`` (and any matrix)."""
    out: dict[str, Any] = {}
    for name, figure in figures.figures.items():
        out[name] = figure.value
        out[f"{name}_ci"] = None if figure.interval is None else list(figure.interval)
    out["n"] = figures.n
    if isinstance(figures, ZeroShotFigures) and figures.labels is not None:
        out["labels"] = figures.labels
        out["confusion_matrix"] = figures.confusion_matrix
    return out


def _index(result: IndexResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "index": result.index,
        "encoder": result.encoder,
        "model": result.model,
        "random_weights": result.random_weights,
        "images": result.images,
        "own_series_excluded": result.own_series_excluded,
    }
    out.update({name: figures_document(f) for name, f in result.tasks.items()})
    if result.by is not None:
        out["by"] = _breakdown(result.by)
    if result.served is not None:
        out["served"] = _served(result.served)
    if result.skipped:
        out["skipped"] = [{"task": s.task, "reason": s.reason} for s in result.skipped]
    return out


def _breakdown(by: Breakdown) -> dict[str, Any]:
    values = {
        value: {name: figures_document(f) for name, f in tasks.items()}
        for value, tasks in by.values.items()
    }
    return {"field": by.field, "values": values}


def _served(served: Served) -> dict[str, Any]:
    out: dict[str, Any] = {name: figures_document(f) for name, f in served.figures.items()}
    out["difference"] = served.difference
    return out


def _difference(difference: Difference) -> dict[str, Any]:
    return {
        "figure": difference.figure,
        "better": difference.better,
        "worse": difference.worse,
        "values": list(difference.values),
    }


def _settings(settings: RunSettings) -> dict[str, Any]:
    queries = str(settings.queries) if settings.queries else None
    return {**asdict(settings), "queries": queries}
