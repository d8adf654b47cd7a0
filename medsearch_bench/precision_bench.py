"""How close reduced-precision embeddings are to fp32 ones: cosine per image and per text.

The same model is loaded twice, in fp32 and in the reduced precision (bf16 on CPUs with bf16
units), and both embed the same images (decoded as the pipeline does) and the same texts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from indexer.encoders import load_encoder
from indexer.errors import InvalidRequestError
from indexer.imaging.decode import load_image, sniff_file
from indexer.sources.folder import scan_corpus

from . import LogFn, no_log
from .samples import sample_images
from .texts import query_texts


def run_precision_bench(
    model: str,
    *,
    images: Path | None = None,
    precision: str = "bf16",
    max_images: int = 32,
    texts: int = 20,
    log: LogFn = no_log,
) -> dict[str, Any]:
    """Cosine similarity of ``precision`` vs fp32 embeddings; min, mean and the worst items.

    ``images`` defaults to ``data/sample/images`` under the current directory (see
    :func:`~medsearch_bench.samples.sample_images`).
    """
    folder = sample_images(images, option="--images")
    paths = [f.path for f in scan_corpus(folder) if sniff_file(f.path)][:max_images]
    if not paths:
        raise InvalidRequestError(f"{folder} holds no image files")
    log(f"loading {model} in fp32 and {precision}")
    reference = load_encoder(model, device="cpu", precision="fp32")
    reduced = load_encoder(model, device="cpu", precision=precision)
    size = reference.draft_size
    prepared = [reference.prepare(load_image(p, draft_size=size).image) for p in paths]
    queries = query_texts(texts)
    log(f"embedding {len(paths)} images and {len(queries)} texts twice")
    image_cos = _row_cosines(reference.encode_prepared(prepared), reduced.encode_prepared(prepared))
    text_cos = _row_cosines(reference.encode_texts(queries), reduced.encode_texts(queries))
    worst = int(np.argmin(image_cos))
    return {
        "model": reference.model_ref,
        "random_weights": reference.random_weights,
        "precision": reduced.precision,
        "images": len(paths),
        "texts": len(queries),
        "image_cosine_min": round(float(image_cos.min()), 6),
        "image_cosine_mean": round(float(image_cos.mean()), 6),
        "text_cosine_min": round(float(text_cos.min()), 6),
        "text_cosine_mean": round(float(text_cos.mean()), 6),
        "worst_image": paths[worst].name,
        "worst_text": queries[int(np.argmin(text_cos))],
    }


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of each row of ``a`` with the same row of ``b`` (both unit rows already)."""
    return np.asarray(
        np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    )
