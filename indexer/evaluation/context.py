"""What every task of one index reads: the index, its encoder, and the inputs as arrays.

Captions are embedded once here, since text-to-image, image-to-text, the served comparison
and the report's examples all use their vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..encoders import Encoder
from .dataset import EvalIndex, Judgment
from .inputs import IndexInputs, codes
from .options import EvalOptions, progress_bar

#: texts embedded per batch
TEXT_BATCH = 64


@dataclass(frozen=True)
class Captions:
    """The captioned images: their rows, their captions and the captions' vectors."""

    rows: npt.NDArray[np.int64]
    texts: list[str]
    vectors: npt.NDArray[np.float32]


@dataclass(frozen=True)
class Labels:
    """Every image's class code (-1: none), the labelled rows, and the classes by code."""

    codes: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int64]
    names: list[str]


@dataclass(frozen=True)
class JudgedQueries:
    """Each distinct judged query and the grade of its relevant image rows."""

    texts: list[str]
    gains: list[dict[int, float]]


@dataclass(frozen=True)
class TaskContext:
    """One index's evaluation inputs, ready for its tasks."""

    index: EvalIndex
    encoder: Encoder
    options: EvalOptions
    captions: Captions | None
    labels: Labels | None
    groups: npt.NDArray[np.int64] | None
    judged: JudgedQueries | None
    #: code of every image's ``--collapse`` value (-1: none); None: images are ranked
    collapse: npt.NDArray[np.int64] | None = None
    #: series code of every image, where image -> image leaves the query's own series out
    own_series: npt.NDArray[np.int64] | None = None
    #: near-duplicate cluster of every image (-1: none), left out of leakage-free image -> image
    duplicates: npt.NDArray[np.int64] | None = None

    @property
    def all_rows(self) -> npt.NDArray[np.int64]:
        return np.arange(len(self.index.ids), dtype=np.int64)

    def embed(self, texts: Sequence[str], what: str) -> npt.NDArray[np.float32]:
        return embed_texts(self.encoder, self.options, texts, what)


def embed_texts(
    encoder: Encoder, options: EvalOptions, texts: Sequence[str], what: str
) -> npt.NDArray[np.float32]:
    """Unit vectors of ``texts``, embedded in batches behind a progress bar."""
    parts = [np.zeros((0, encoder.dim), dtype=np.float32)]
    with progress_bar(options, f"embedding {what}", len(texts)) as bar:
        for start in range(0, len(texts), TEXT_BATCH):
            batch = list(texts[start : start + TEXT_BATCH])
            parts.append(np.asarray(encoder.encode_texts(batch), dtype=np.float32))
            bar.update(len(batch))
    return np.concatenate(parts)


def task_context(
    inputs: IndexInputs,
    encoder: Encoder,
    options: EvalOptions,
    judgments: list[Judgment] | None,
) -> TaskContext:
    """The context of ``inputs``' tasks, its captions embedded by ``encoder``."""
    judged = None
    if judgments is not None and inputs.judged_rows is not None:
        judged = _judged(judgments, inputs.judged_rows)
    captions = None
    if inputs.captions is not None:
        rows = np.array([r for r, c in enumerate(inputs.captions) if c], dtype=np.int64)
        texts = [str(inputs.captions[r]) for r in rows]
        vectors = embed_texts(encoder, options, texts, f"captions of {inputs.index.path.name}")
        captions = Captions(rows, texts, vectors)
    return TaskContext(
        inputs.index,
        encoder,
        options,
        captions,
        _labels(inputs),
        inputs.groups,
        judged,
        inputs.collapse,
        inputs.own_series,
        inputs.duplicates,
    )


def _labels(inputs: IndexInputs) -> Labels | None:
    if inputs.labels is None:
        return None
    label_codes = codes(inputs.labels)
    rows = np.flatnonzero(label_codes >= 0).astype(np.int64)
    names = sorted({label for label in inputs.labels if label is not None})
    return Labels(label_codes, rows, names)


def _judged(judgments: list[Judgment], rows: list[int]) -> JudgedQueries:
    gains: dict[str, dict[int, float]] = {}
    for judgment, row in zip(judgments, rows, strict=True):
        gains.setdefault(judgment.query, {})[row] = judgment.grade
    return JudgedQueries(list(gains), list(gains.values()))
