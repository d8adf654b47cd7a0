"""A handful of example text queries and their top results, for the report to show.

The same captions (picked once, seeded, from the first index) are asked of every index, so the
report can put their results side by side.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .. import metrics, scoring
from ..context import Captions
from ..dataset import EvalIndex
from ..results import Example, ExampleHit

#: example queries kept for the report, and results shown per example
EXAMPLES, EXAMPLE_HITS = 4, 5


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
    captions: Captions,
    paths: list[str],
) -> list[Example]:
    """The top results of the captions of ``paths`` in ``index`` (relevant ones marked)."""
    position = {index.records[int(r)].path: q for q, r in enumerate(captions.rows)}
    relevance = scoring.same_image(captions.rows, np.arange(len(index.ids)), groups)
    examples = []
    for path in paths:
        if path not in position:
            continue
        q = position[path]
        scores = index.vectors @ captions.vectors[q]
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
        examples.append(Example(captions.texts[q], path, hits))
    return examples
