"""One evaluation run: every index's figures with their intervals, as the JSON of ``--json``.

Inputs of all indexes (fields, labels, captions, judgments) are checked before any model is
loaded (:mod:`.dataset`). Then, per index, the encoder recorded in it embeds the captions, the
label prompts and the judged queries, and every task is scored exactly from the stored vectors
(:mod:`.tasks`); ``served`` also asks the published ANN index through the
:class:`~indexer.search.retriever.Retriever` and reports served minus exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from ..encoders import Encoder, encoder_from_settings
from ..prompts import DEFAULT_TEMPLATE, fill_template
from ..settings import Settings
from ..storage.folder import require_same_encoder
from . import tasks
from .bootstrap import overlapping
from .dataset import (
    EvalIndex,
    Judgment,
    captions_of,
    labels_of,
    open_eval_index,
    read_qrels,
    resolve_judgments,
)
from .figures import summarise, zero_shot_figures
from .report.examples import Example, example_paths, examples_of
from .served import served_figures

#: texts embedded per batch
TEXT_BATCH = 64
SECTIONS = (
    "text_to_image",
    "image_to_text",
    "image_to_image",
    "image_to_image_leakage_free",
    "zero_shot",
    "queries",
)


@dataclass(frozen=True)
class EvalOptions:
    label_field: str = "label"
    group_field: str | None = None
    caption_field: str = "caption"
    by: str | None = None
    queries: Path | None = None
    bootstrap: int = 1000
    seed: int = 0
    served: bool = False
    #: the device, precision and trust in model code the encoders load with
    settings: Settings = field(default_factory=Settings)
    #: None: a progress bar on stderr when it is a terminal
    progress: bool | None = None


@dataclass
class Evaluation:
    """The JSON document (``data``) and, per index, the example queries the report shows."""

    data: dict[str, Any]
    examples: list[list[Example]] = field(default_factory=list)


@dataclass(frozen=True)
class _Inputs:
    index: EvalIndex
    labels: list[str | None]
    captions: list[str | None]
    groups: npt.NDArray[np.int64] | None
    by_values: list[str | None] | None
    judged_rows: list[int] | None


def evaluate(paths: Sequence[Path], options: EvalOptions) -> Evaluation:
    """Evaluate every index in ``paths`` with ``options``."""
    judgments = read_qrels(options.queries) if options.queries else None
    inputs = [_checked_inputs(open_eval_index(p), options, judgments) for p in paths]
    evaluation = Evaluation({"indexes": [], "differences": [], "settings": _settings(options)})
    shown = example_paths(inputs[0].index, inputs[0].captions, options.seed)
    for item in inputs:
        entry, examples = _evaluate_one(item, options, judgments, shown)
        evaluation.data["indexes"].append(entry)
        evaluation.examples.append(examples)
    evaluation.data["differences"] = differences(evaluation.data["indexes"])
    return evaluation


def _checked_inputs(
    index: EvalIndex, options: EvalOptions, judgments: list[Judgment] | None
) -> _Inputs:
    groups = None
    if options.group_field:
        groups = _codes([None if v is None else str(v) for v in index.values(options.group_field)])
    by_values = None
    if options.by:
        by_values = [None if v is None else str(v) for v in index.values(options.by)]
    judged_rows = None
    if judgments is not None and options.queries is not None:
        judged_rows = resolve_judgments(judgments, index, options.queries)
    return _Inputs(
        index,
        labels_of(index, options.label_field),
        captions_of(index, options.caption_field),
        groups,
        by_values,
        judged_rows,
    )


def _evaluate_one(
    item: _Inputs,
    options: EvalOptions,
    judgments: list[Judgment] | None,
    example_paths: list[str],
) -> tuple[dict[str, Any], list[Example]]:
    index, info = item.index, item.index.info
    encoder = encoder_from_settings(options.settings, info.encoder.model, compile_images=False)
    require_same_encoder(info, encoder.fingerprint, encoder.model_ref, index.path)
    caption_rows = np.array([r for r, c in enumerate(item.captions) if c], dtype=np.int64)
    texts = [str(item.captions[r]) for r in caption_rows]
    caption_vectors = embed_texts(encoder, texts, f"captions of {index.path.name}", options)
    all_rows = np.arange(len(index.ids), dtype=np.int64)
    label_codes = _codes(item.labels)
    label_rows = np.flatnonzero(label_codes >= 0).astype(np.int64)
    per_query: dict[str, tuple[tasks.PerQuery, npt.NDArray[np.int64]]] = {}
    with _bar(options, f"scoring {index.path.name}", 3 * len(index.ids)) as bar:
        t2i = tasks.first_ranks_exact(
            caption_vectors,
            index.vectors,
            tasks.same_image(caption_rows, all_rows, item.groups),
            bar.update,
        )
        per_query["text_to_image"] = (tasks.cross_modal(t2i), caption_rows)
        i2t = tasks.first_ranks_exact(
            index.vectors[caption_rows],
            caption_vectors,
            tasks.same_image(caption_rows, caption_rows, item.groups),
            bar.update,
        )
        per_query["image_to_text"] = (tasks.cross_modal(i2t), caption_rows)
        relevance = tasks.same_label(label_rows, label_codes)
        per_query["image_to_image"] = (
            tasks.image_to_image_exact(index.vectors, label_rows, relevance, bar.update),
            label_rows,
        )
        if item.groups is not None:
            leak_free = tasks.same_label(label_rows, label_codes, item.groups)
            per_query["image_to_image_leakage_free"] = (
                tasks.image_to_image_exact(index.vectors, label_rows, leak_free, bar.update),
                label_rows,
            )
    names = sorted({label for label in item.labels if label is not None})
    prompts = [fill_template(DEFAULT_TEMPLATE, name) for name in names]
    prompt_vectors = embed_texts(encoder, prompts, "label prompts", options)
    predicted, truth = tasks.zero_shot(
        index.vectors[label_rows] @ prompt_vectors.T,
        encoder.label_probabilities,
        label_codes[label_rows],
    )
    entry: dict[str, Any] = {
        "index": index.name,
        "encoder": info.encoder.name,
        "model": info.encoder.model,
        "random_weights": info.encoder.random_weights,
        "images": len(index.ids),
    }
    rounds, seed = options.bootstrap, options.seed
    for section, (values, _rows) in per_query.items():
        entry[section] = summarise(values, rounds, seed)
    entry["zero_shot"] = zero_shot_figures(truth, predicted, names, rounds, seed)
    if judgments is not None and item.judged_rows is not None:
        entry["queries"] = _judged(encoder, index, judgments, item.judged_rows, options)
    if item.by_values is not None and options.by:
        entry["by"] = _breakdown(item, per_query, truth, predicted, label_rows, names, options)
    if options.served:
        entry["served"] = served_figures(
            index, encoder, options, caption_vectors, caption_rows, item.groups, label_codes, entry
        )
    examples = examples_of(
        item.index, item.groups, texts, caption_vectors, caption_rows, example_paths
    )
    return entry, examples


def embed_texts(
    encoder: Encoder, texts: Sequence[str], what: str, options: EvalOptions
) -> npt.NDArray[np.float32]:
    """Unit vectors of ``texts``, embedded in batches behind a progress bar."""
    parts = [np.zeros((0, encoder.dim), dtype=np.float32)]
    with _bar(options, f"embedding {what}", len(texts)) as bar:
        for start in range(0, len(texts), TEXT_BATCH):
            batch = list(texts[start : start + TEXT_BATCH])
            parts.append(np.asarray(encoder.encode_texts(batch), dtype=np.float32))
            bar.update(len(batch))
    return np.concatenate(parts)


def _judged(
    encoder: Encoder,
    index: EvalIndex,
    judgments: list[Judgment],
    rows: list[int],
    options: EvalOptions,
) -> dict[str, Any]:
    gains: dict[str, dict[int, float]] = {}
    for judgment, row in zip(judgments, rows, strict=True):
        gains.setdefault(judgment.query, {})[row] = judgment.grade
    queries = list(gains)
    vectors = embed_texts(encoder, queries, "judged queries", options)
    with _bar(options, "scoring judged queries", len(queries)) as bar:
        values = tasks.judged_retrieval(
            vectors, index.vectors, [gains[q] for q in queries], bar.update
        )
    return summarise(values, options.bootstrap, options.seed)


def _breakdown(
    item: _Inputs,
    per_query: dict[str, tuple[tasks.PerQuery, npt.NDArray[np.int64]]],
    truth: npt.NDArray[np.int64],
    predicted: npt.NDArray[np.int64],
    label_rows: npt.NDArray[np.int64],
    names: list[str],
    options: EvalOptions,
) -> dict[str, Any]:
    assert item.by_values is not None
    by = np.array([v if v is not None else "" for v in item.by_values], dtype=object)
    values: dict[str, Any] = {}
    for value in sorted({v for v in item.by_values if v is not None}):
        group: dict[str, Any] = {}
        for section, (arrays, rows) in per_query.items():
            keep = by[rows] == value
            group[section] = summarise(
                {k: v[keep] for k, v in arrays.items()}, options.bootstrap, options.seed
            )
        keep = by[label_rows] == value
        group["zero_shot"] = zero_shot_figures(
            truth[keep], predicted[keep], names, options.bootstrap, options.seed, matrix=False
        )
        values[value] = group
    return {"field": options.by, "values": values}


def differences(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Figures whose intervals do not overlap between two indexes: the better and the worse."""
    found = []
    for section in SECTIONS:
        for i, first in enumerate(entries):
            for second in entries[i + 1 :]:
                a, b = first.get(section), second.get(section)
                if not a or not b:
                    continue
                for key in a:
                    if not key.endswith("_ci") or a.get(key) is None or b.get(key) is None:
                        continue
                    figure = key[: -len("_ci")]
                    if overlapping(a[key], b[key]) or a[figure] is None or b[figure] is None:
                        continue
                    lower_is_better = figure == "median_rank"
                    first_better = (a[figure] < b[figure]) == lower_is_better
                    better, worse = (first, second) if first_better else (second, first)
                    found.append(
                        {
                            "figure": f"{section}.{figure}",
                            "better": better["index"],
                            "worse": worse["index"],
                            "values": [better[section][figure], worse[section][figure]],
                        }
                    )
    return found


def _codes(values: Sequence[str | None]) -> npt.NDArray[np.int64]:
    """Each value's position among the sorted distinct values; -1 for None."""
    distinct = {v: i for i, v in enumerate(sorted({v for v in values if v is not None}))}
    return np.array([-1 if v is None else distinct[v] for v in values], dtype=np.int64)


def _settings(options: EvalOptions) -> dict[str, Any]:
    return {
        "label_field": options.label_field,
        "group_field": options.group_field,
        "caption_field": options.caption_field,
        "by": options.by,
        "queries": str(options.queries) if options.queries else None,
        "bootstrap": options.bootstrap,
        "seed": options.seed,
        "served": options.served,
        "template": DEFAULT_TEMPLATE,
    }


def _bar(options: EvalOptions, description: str, total: int) -> tqdm[Any]:
    disable = None if options.progress is None else not options.progress
    return tqdm(total=total, desc=description, unit="q", leave=False, disable=disable)


__all__ = ["EvalOptions", "Evaluation", "differences", "evaluate"]
