"""A handful of example text queries and their top results, for the report to show.

The same captions (picked once, seeded, from the first index) are asked of every index, so the
report can put their results side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .. import metrics, tasks
from ..dataset import EvalIndex

#: example queries kept for the report, and results shown per example
EXAMPLES, EXAMPLE_HITS = 4, 5


@dataclass(frozen=True)
class ExampleHit:
    path: str
    file: Path | None
    score: float
    relevant: bool


@dataclass(frozen=True)
class Example:
    query: str
    query_path: str
    hits: list[ExampleHit]


def example_paths(index: EvalIndex, captions: list[str | None], seed: int) -> list[str]:
    """Paths of the captioned images whose captions serve as examples."""
    rows = [r for r, caption in enumerate(captions) if caption]
    picked = np.random.default_rng(seed).choice(
        len(rows), size=min(EXAMPLES, len(rows)), replace=False
    )
    return [index.records[rows[int(i)]].path for i in sorted(picked)]


def examples_of(
    index: EvalIndex,
    groups: npt.NDArray[np.int64] | None,
    texts: list[str],
    caption_vectors: npt.NDArray[np.float32],
    caption_rows: npt.NDArray[np.int64],
    paths: list[str],
) -> list[Example]:
    """The top results of the captions of ``paths`` in ``index`` (relevant ones marked).

    ``texts[q]``, ``caption_vectors[q]`` and ``caption_rows[q]``: caption q, its vector, its image.
    """
    position = {index.records[int(r)].path: q for q, r in enumerate(caption_rows)}
    relevance = tasks.same_image(caption_rows, np.arange(len(index.ids)), groups)
    examples = []
    for path in paths:
        if path not in position:
            continue
        q = position[path]
        scores = index.vectors @ caption_vectors[q]
        top = metrics.rank_order(scores[None, :])[0][:EXAMPLE_HITS]
        relevant = relevance(np.array([q]))[0][0]
        hits = [
            ExampleHit(
                index.records[int(r)].path,
                index.source_file(int(r)),
                float(scores[r]),
                bool(relevant[r]),
            )
            for r in top
        ]
        examples.append(Example(texts[q], path, hits))
    return examples
