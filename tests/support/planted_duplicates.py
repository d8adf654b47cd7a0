"""The sample corpus with planted duplicates of some of its images, and brute-force truths.

Planted beside the 32 sample images (:data:`PLANTED_AS`, made by :data:`COPY_MAKERS`): a
resized, a re-encoded and a cropped copy of three X-rays, two exact byte copies of a fourth, and
a CT slice written again with its window centre shifted. A ``split`` column puts the originals
in ``train`` and their copies in ``test``, so the leakage report has something to find.
"""

from __future__ import annotations

import csv
import itertools
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from indexer.search.duplicates import IndexedVectors
from tests.support.helpers import (
    SAMPLE_DIR,
    SAMPLE_METADATA,
    run_cli,
    seed_group_key,
    tiny_model_args,
)


def _resized(source: Path, target: Path) -> None:
    Image.open(source).resize((300, 300)).save(target)


def _re_encoded(source: Path, target: Path) -> None:
    Image.open(source).save(target, quality=60)


def _cropped(source: Path, target: Path) -> None:
    with Image.open(source) as image:
        width, height = image.size
        image.crop((3, 3, width - 3, height - 3)).save(target)


def _window_shifted(source: Path, target: Path) -> None:
    dicom = pydicom.dcmread(source)
    dicom.WindowCenter = [50, 50, 50]
    dicom.save_as(target)


#: each kind of planted copy and how it is made from its original
COPY_MAKERS: dict[str, Callable[[Path, Path], object]] = {
    "resized": _resized,
    "re-encoded": _re_encoded,
    "cropped": _cropped,
    "exact": shutil.copyfile,
    "window-shifted": _window_shifted,
}

#: planted file (relative to the corpus) -> how it copies which sample image
PLANTED_AS = {
    "planted/cxr_01_resized.jpg": ("resized", "images/cxr_01.jpg"),
    "planted/cxr_02_q60.jpg": ("re-encoded", "images/cxr_02.jpg"),
    "planted/cxr_03_cropped.png": ("cropped", "images/cxr_03.jpg"),
    "planted/cxr_04_copy.jpg": ("exact", "images/cxr_04.jpg"),
    "planted/again/cxr_04_copy.jpg": ("exact", "images/cxr_04.jpg"),
    "planted/ct_head_window.dcm": ("window-shifted", "images/dcm_ct_head.dcm"),
}
#: planted file -> the sample image it copies
PLANTED = {name: original for name, (_, original) in PLANTED_AS.items()}


def plant(corpus: Path, planted_as: Mapping[str, tuple[str, str]]) -> None:
    """Write each planted copy (relative to ``corpus``) from its original, as its kind says."""
    for name, (kind, original) in planted_as.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        COPY_MAKERS[kind](corpus / original, corpus / name)


def planted_corpus(root: Path) -> tuple[Path, Path]:
    """Copy the sample into ``root/corpus`` with the planted copies; the corpus and its
    metadata CSV (the sample's columns and ``split``)."""
    corpus = root / "corpus"
    shutil.copytree(SAMPLE_DIR / "images", corpus / "images")
    plant(corpus, PLANTED_AS)
    return corpus, _metadata(root / "metadata.csv")


def index_planted(root: Path, model_dir: Path) -> Path:
    """The planted corpus made under ``root`` and indexed by the real CLI with the tiny model
    (a seeded group key, the metadata with ``split``); the index folder."""
    corpus, metadata = planted_corpus(root)
    index_dir = root / "index"
    seed_group_key(index_dir, 0)
    run_cli(
        "index", corpus, "--index", index_dir, "--metadata", metadata,
        *tiny_model_args(model_dir),
    )  # fmt: skip
    return index_dir


def _metadata(path: Path) -> Path:
    with SAMPLE_METADATA.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    columns = [*rows[0].keys(), "split"]
    by_file = {row["file"]: row for row in rows}
    for number, row in enumerate(rows):
        # every fourth image is a test image, so that some sample images leak by themselves
        row["split"] = "test" if number % 4 == 0 else "train"
    for planted, original in PLANTED.items():
        rows.append({**by_file[original], "id": planted, "file": planted, "split": "test"})
    for row in rows:
        if row["file"] in PLANTED.values():
            row["split"] = "train"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def brute_force_clusters(
    ids: np.ndarray, matrix: np.ndarray, checksums: list[str], threshold: float
) -> set[frozenset[int]]:
    """Connected components of the graph linking every pair at cosine >= ``threshold`` (in
    float64) or with the same sha256, clusters of two or more."""
    scores = matrix.astype(np.float64) @ matrix.astype(np.float64).T
    parent = list(range(len(ids)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in itertools.combinations(range(len(ids)), 2):
        if scores[a, b] >= threshold or checksums[a] == checksums[b]:
            parent[find(a)] = find(b)
    groups: dict[int, set[int]] = {}
    for row, image_id in enumerate(ids.tolist()):
        groups.setdefault(find(row), set()).add(image_id)
    return {frozenset(g) for g in groups.values() if len(g) > 1}


def brute_force_leakage(
    clusters: Iterable[frozenset[int]], values: Mapping[int, object]
) -> dict[tuple[str, str], tuple[int, int]]:
    """Per pair of values held together in a cluster: (clusters holding both, their images
    holding either)."""
    found: dict[tuple[str, str], tuple[int, int]] = {}
    for cluster in clusters:
        held = sorted({str(values[i]) for i in cluster if values.get(i) is not None})
        for a, b in itertools.combinations(held, 2):
            images = sum(1 for i in cluster if str(values.get(i)) in (a, b))
            n, total = found.get((a, b), (0, 0))
            found[(a, b)] = (n + 1, total + images)
    return found


def midpoint_thresholds(matrix: np.ndarray, count: int) -> list[float]:
    """``count`` thresholds halfway between distinct pair cosines near the top (float64), so
    that float rounding cannot put a pair on either side."""
    scores = matrix.astype(np.float64) @ matrix.astype(np.float64).T
    upper = np.sort(np.unique(scores[np.triu_indices(len(matrix), 1)]))[::-1]
    upper = upper[upper < 0.9999999][:300]
    gaps = upper[:-1] - upper[1:]
    widest = np.sort(np.argsort(-gaps)[:count])
    return [float((upper[i] + upper[i + 1]) / 2) for i in widest]


def brute_force_fold(
    indexed: IndexedVectors,
    query: np.ndarray,
    threshold: float | None,
    eligible: set[int],
    min_score: float | None = None,
) -> list[tuple[int, list[int]]]:
    """Every kept result of the exact ranking with the ids folded into it."""
    # one dot product per row, so that identical vectors (exact copies) score the same
    scores = np.asarray([np.dot(row, query) for row in indexed.matrix])
    order = sorted(range(len(indexed.ids)), key=lambda r: (-scores[r], indexed.ids[r]))
    kept: list[tuple[int, list[int]]] = []
    kept_rows: list[int] = []
    for row in order:
        image_id = int(indexed.ids[row])
        if image_id not in eligible or (min_score is not None and scores[row] < min_score):
            continue
        home = None
        for position, other in enumerate(kept_rows):
            same = indexed.checksums[other] == indexed.checksums[row]
            near = threshold is not None and indexed.matrix[other] @ indexed.matrix[row] >= (
                np.float32(threshold)
            )
            if same or near:
                home = position
                break
        if home is None:
            kept.append((image_id, []))
            kept_rows.append(row)
        else:
            kept[home][1].append(image_id)
    return kept
