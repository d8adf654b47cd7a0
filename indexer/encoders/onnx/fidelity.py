"""The fidelity guard: an int8 model is used only if it embeds like the fp32 PyTorch model.

On the calibration set (:mod:`.calibration`) it compares each image's and text's two embeddings
(cosine: mean and minimum) and the top-10 neighbours of image-to-image search (over the index's
vectors when there is an index, else among the calibration images). Below any threshold it refuses
with the three figures, the worst items and the way back to bf16.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnfaithfulRuntimeError
from ..base import Encoder
from .calibration import Calibration

MIN_MEAN_COSINE = 0.995
MIN_COSINE = 0.98
MIN_TOP10_OVERLAP = 0.9
NEIGHBOURS = 10
#: worst items named in a refusal
_WORST = 3


@dataclass(frozen=True)
class FidelityReport:
    """How close a model's embeddings are to the fp32 PyTorch model's."""

    runtime: str
    precision: str
    mean_cosine: float
    min_cosine: float
    top10_overlap: float
    #: the items with the lowest cosines, worst first
    worst: tuple[str, ...]
    #: what the set held ("64 images and 64 captions of the corpus")
    calibration: str

    @property
    def faithful(self) -> bool:
        return (
            self.mean_cosine >= MIN_MEAN_COSINE
            and self.min_cosine >= MIN_COSINE
            and self.top10_overlap >= MIN_TOP10_OVERLAP
        )

    def figures(self) -> str:
        """The three figures beside their thresholds, in one line."""
        return (
            f"mean cosine {self.mean_cosine:.4f} (>= {MIN_MEAN_COSINE}), minimum "
            f"{self.min_cosine:.4f} (>= {MIN_COSINE}), top-{NEIGHBOURS} overlap "
            f"{self.top10_overlap:.3f} (>= {MIN_TOP10_OVERLAP})"
        )

    def as_record(self) -> dict[str, str]:
        """The report as ``index_info.json`` records it (``fidelity``)."""
        return {
            "runtime": self.runtime,
            "precision": self.precision,
            "mean_cosine": f"{self.mean_cosine:.5f}",
            "min_cosine": f"{self.min_cosine:.5f}",
            "top10_overlap": f"{self.top10_overlap:.4f}",
            "calibration": self.calibration,
        }


@dataclass(frozen=True)
class ReferenceEmbeddings:
    """The fp32 PyTorch model's embeddings of a calibration set, kept so that the model itself
    can be let go before the candidate is loaded (only one of the two is in memory at a time)."""

    names: tuple[str, ...]
    prepared: tuple[np.ndarray, ...]
    texts: tuple[str, ...]
    #: the images' unit vectors, then the texts'
    vectors: np.ndarray


def reference_embeddings(reference: Encoder, calibration: Calibration) -> ReferenceEmbeddings:
    """Embed ``calibration`` with ``reference`` (the fp32 PyTorch model)."""
    names, prepared = calibration.prepared(reference)
    texts = list(calibration.texts)
    vectors = np.concatenate([reference.encode_prepared(prepared), reference.encode_texts(texts)])
    return ReferenceEmbeddings(tuple(names), tuple(prepared), tuple(texts), vectors)


def measure_fidelity(
    candidate: Encoder, reference: Encoder, calibration: Calibration
) -> FidelityReport:
    """Compare ``candidate`` with ``reference`` (the fp32 PyTorch model) on ``calibration``."""
    return compare_with_reference(
        candidate, reference_embeddings(reference, calibration), calibration
    )


def compare_with_reference(
    candidate: Encoder, expected: ReferenceEmbeddings, calibration: Calibration
) -> FidelityReport:
    """Compare ``candidate`` with the reference's embeddings ``expected`` of ``calibration``."""
    prepared, texts = list(expected.prepared), list(expected.texts)
    got = np.concatenate([candidate.encode_prepared(prepared), candidate.encode_texts(texts)])
    want = expected.vectors
    cosines = np.sum(got * want, axis=1)
    items = [f"image {name}" for name in expected.names] + [f"text {text!r}" for text in texts]
    worst = tuple(f"{items[i]}: {cosines[i]:.4f}" for i in np.argsort(cosines)[:_WORST])
    images = len(prepared)
    index = calibration.index_vectors
    overlap = top_k_overlap(
        want[:images],
        index if index is not None else want[:images],
        got[:images],
        index if index is not None else got[:images],
    )
    return FidelityReport(
        runtime=candidate.runtime,
        precision=candidate.precision,
        mean_cosine=float(cosines.mean()),
        min_cosine=float(cosines.min()),
        top10_overlap=overlap,
        worst=worst,
        calibration=calibration.describe(images),
    )


def top_k_overlap(
    want_queries: np.ndarray,
    want_database: np.ndarray,
    got_queries: np.ndarray,
    got_database: np.ndarray,
    k: int = NEIGHBOURS,
) -> float:
    """Mean share of the reference's top-``k`` (by inner product) in the candidate's top-``k``."""
    k = min(k, len(want_database))
    if k == 0 or not len(want_queries):
        return 1.0
    want = np.argsort(-(want_queries @ want_database.T), axis=1, kind="stable")[:, :k]
    got = np.argsort(-(got_queries @ got_database.T), axis=1, kind="stable")[:, :k]
    shared = [len(set(a.tolist()) & set(b.tolist())) for a, b in zip(want, got, strict=True)]
    return float(np.mean(shared) / k)


def require_faithful(report: FidelityReport, model: str) -> None:
    """Raise :class:`UnfaithfulRuntimeError` unless ``report`` meets every threshold."""
    if report.faithful:
        return
    raise UnfaithfulRuntimeError(
        f"the {report.precision} {report.runtime} model of {model} is not faithful to its fp32 "
        f"PyTorch model on {report.calibration}: {report.figures()}. Worst items: "
        f"{'; '.join(report.worst)}. Index and serve in bf16 instead: --runtime torch "
        "--precision bf16 (MEDSEARCH_RUNTIME=torch MEDSEARCH_PRECISION=bf16)."
    )
