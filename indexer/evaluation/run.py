"""One evaluation run: every index's figures with their intervals.

Inputs of all indexes (fields, labels, captions, judgments) are checked before any model is
loaded (:mod:`.inputs`), and each index's tasks are planned: a task runs where the index has
the fields it needs, and is reported as skipped, with the reason, where a default field is
missing. Then, per index, the encoder recorded in it embeds the captions, label prompts and
judged queries, every planned task is scored exactly from the stored vectors
(:mod:`.tasks`), and ``served`` also asks the published ANN index (:mod:`.served`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..encoders import encoder_from_settings
from ..errors import EvaluationInputError
from ..prompts import DEFAULT_TEMPLATE
from ..search.calibration import index_calibration
from ..storage.folder import require_same_encoder
from .compare import differences
from .context import task_context
from .dataset import Judgment, open_eval_index, read_qrels
from .inputs import IndexInputs, Need, checked_inputs
from .levels import at_level, check_level_options
from .options import EvalOptions, progress_bar
from .report.examples import example_paths, examples_of
from .results import Breakdown, Evaluation, Figures, IndexResult, RunSettings, Skipped
from .served import served_figures
from .tasks import TASKS, Task, TaskScores
from .tasks.text_modes import check_modes


@dataclass(frozen=True)
class Plan:
    """The tasks to run on one index, and those skipped there for a missing field."""

    tasks: list[Task]
    skipped: list[Skipped]


def evaluate(paths: Sequence[Path], options: EvalOptions) -> Evaluation:
    """Evaluate every index in ``paths`` with ``options``."""
    if options.collapse and options.served:
        raise EvaluationInputError(
            "--collapse ranks groups, the served index images: give one of --collapse, --served"
        )
    check_level_options(options)
    check_modes(options)
    judgments = read_qrels(options.queries) if options.queries else None
    inputs = [
        checked_inputs(at_level(open_eval_index(p), options.level), options, judgments)
        for p in paths
    ]
    plans = [plan(item, options.modes) for item in inputs]
    first = inputs[0]
    shown = example_paths(first.index, first.captions, options.seed) if first.captions else []
    results = [
        _evaluate_one(item, planned, options, judgments, shown)
        for item, planned in zip(inputs, plans, strict=True)
    ]
    return Evaluation(results, differences(results), run_settings(options))


def plan(inputs: IndexInputs, modes: Sequence[str] = ("dense",)) -> Plan:
    """The tasks whose fields ``inputs`` has; none at all is an error naming every reason.

    A task lacking a field the user did not ask for (no ``--group-field``, no ``--queries``)
    was not asked for, so it is neither run nor reported as skipped; nor is a text -> image
    task of a search mode not among ``modes``.
    """
    runnable, skipped = [], []
    for task in TASKS:
        if task.mode is not None and task.mode not in modes:
            continue
        lacking = [need for need in Need if need in task.needs and not inputs.has(need)]
        if not lacking:
            runnable.append(task)
        elif all(need in inputs.missing for need in lacking):
            reason = "; ".join(inputs.missing[need] for need in lacking)
            skipped.append(Skipped(task.name, reason))
    if not runnable:
        reasons = dict.fromkeys(inputs.missing.values())
        raise EvaluationInputError(
            f"no evaluation task can run on index {inputs.index.path}: " + "; ".join(reasons)
        )
    return Plan(runnable, skipped)


def _evaluate_one(
    inputs: IndexInputs,
    planned: Plan,
    options: EvalOptions,
    judgments: list[Judgment] | None,
    shown: list[str],
) -> IndexResult:
    index, recorded = inputs.index, inputs.index.info.encoder
    encoder = encoder_from_settings(
        options.settings,
        recorded.model,
        compile_images=False,
        calibration=index_calibration(options.settings.replace(index_dir=index.path)),
    )
    require_same_encoder(index.info, encoder.fingerprint, encoder.model_ref, index.path)
    context = task_context(inputs, encoder, options, judgments)
    with progress_bar(options, f"scoring {index.path.name}") as bar:
        scores = {task.name: task.exact(context, bar.update) for task in planned.tasks}
    rounds, seed = options.bootstrap, options.seed
    figures = {name: found.figures(rounds, seed) for name, found in scores.items()}
    by = None
    if options.by and inputs.by_values is not None:
        by = breakdown(options.by, inputs.by_values, scores, options)
    served = served_figures(context, planned.tasks, figures) if options.served else None
    examples = []
    if context.captions is not None:
        examples = examples_of(index, context.groups, context.captions, shown)
    return IndexResult(
        index.name,
        recorded.name,
        recorded.model,
        recorded.random_weights,
        len(index.ids),
        figures,
        by,
        served,
        planned.skipped,
        examples,
        own_series_excluded=context.own_series is not None,
    )


def breakdown(
    field: str,
    by_values: list[str | None],
    scores: dict[str, TaskScores],
    options: EvalOptions,
) -> Breakdown:
    """Every per-image task's figures per value of ``field`` (no confusion matrices)."""
    by = np.array([v if v is not None else "" for v in by_values], dtype=object)
    values: dict[str, dict[str, Figures]] = {}
    for value in sorted({v for v in by_values if v is not None}):
        group: dict[str, Figures] = {}
        for name, found in scores.items():
            part = found.within(by == value)
            if part is not None:
                group[name] = part.figures(options.bootstrap, options.seed, detail=False)
        values[value] = group
    return Breakdown(field, values)


def run_settings(options: EvalOptions) -> RunSettings:
    return RunSettings(
        label_field=options.label_field_used,
        group_field=options.group_field,
        collapse=options.collapse,
        exclude_own_series=options.exclude_own_series,
        caption_field=options.caption_field_used,
        by=options.by,
        queries=options.queries,
        bootstrap=options.bootstrap,
        seed=options.seed,
        served=options.served,
        template=DEFAULT_TEMPLATE,
        level=options.level,
        modes=options.modes,
        exclude_duplicates=options.exclude_duplicates,
    )


__all__ = ["EvalOptions", "Evaluation", "evaluate", "plan"]
