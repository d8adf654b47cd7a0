"""``--served``: the figures as the published ANN index answers, and how far they are from exact.

Text-to-image queries are the caption vectors sent to :meth:`Retriever.search` (top 50, the
largest K reported); image-to-image queries are indexed ids with the query itself excluded (top
10). A relevant image the served index does not return within that depth counts as not found.
R-precision needs the whole ranking, and image-to-text and zero-shot do not use the ANN index,
so those stay exact. ``difference`` is served minus exact, figure by figure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from ..encoders import Encoder
from ..search.retriever import Retriever
from . import metrics, tasks
from .dataset import EvalIndex
from .figures import summarise

if TYPE_CHECKING:
    from .run import EvalOptions

TEXT_DEPTH = max(tasks.RECALL_KS)


def served_figures(
    index: EvalIndex,
    encoder: Encoder,
    options: EvalOptions,
    caption_vectors: npt.NDArray[np.float32],
    caption_rows: npt.NDArray[np.int64],
    groups: npt.NDArray[np.int64] | None,
    label_codes: npt.NDArray[np.int64],
    exact: dict[str, Any],
) -> dict[str, Any]:
    """Served text-to-image and image-to-image figures, and served minus exact."""
    settings = options.settings.replace(index_dir=index.path)
    retriever = Retriever.open(settings, encoder=encoder)
    row_of_id = {int(image_id): row for row, image_id in enumerate(index.ids)}
    all_rows = np.arange(len(index.ids), dtype=np.int64)
    label_rows = np.flatnonzero(label_codes >= 0).astype(np.int64)
    disable = None if options.progress is None else not options.progress
    try:
        with tqdm(
            total=len(caption_rows) + len(label_rows),
            desc="served queries",
            leave=False,
            disable=disable,
        ) as bar:
            text_relevance = tasks.same_image(caption_rows, all_rows, groups)
            text_ranked = np.zeros((len(caption_rows), TEXT_DEPTH), dtype=bool)
            for q in range(len(caption_rows)):
                hits = retriever.search(vector=caption_vectors[q], k=TEXT_DEPTH).hits
                relevant = text_relevance(np.array([q]))[0][0]
                found = [relevant[row_of_id[h.id]] for h in hits]
                text_ranked[q, : len(found)] = found
                bar.update(1)
            image_relevance = tasks.same_label(label_rows, label_codes)
            image_ranked = np.zeros((len(label_rows), tasks.IMAGE_K), dtype=bool)
            n_relevant = np.zeros(len(label_rows), dtype=np.int64)
            for q, row in enumerate(label_rows):
                image_id = int(index.ids[row])
                hits = retriever.search(
                    image_id=image_id, k=tasks.IMAGE_K, exclude_ids=[image_id]
                ).hits
                relevant, excluded = image_relevance(np.array([q]))
                relevant = relevant[0] & ~excluded[0]
                n_relevant[q] = relevant.sum()
                found = [relevant[row_of_id[h.id]] for h in hits]
                image_ranked[q, : len(found)] = found
                bar.update(1)
    finally:
        retriever.close()
    rounds, seed = options.bootstrap, options.seed
    text = summarise(tasks.cross_modal(metrics.first_relevant_rank(text_ranked)), rounds, seed)
    image_values = tasks.image_to_image(image_ranked, n_relevant)
    image_values.pop("R-precision")
    image = summarise(image_values, rounds, seed)
    served = {"text_to_image": text, "image_to_image": image}
    served["difference"] = {
        section: {
            key: None
            if figures[key] is None or exact[section].get(key) is None
            else round(figures[key] - exact[section][key], 6)
            for key in figures
            if not key.endswith("_ci") and key != "n"
        }
        for section, figures in served.items()
    }
    return served
