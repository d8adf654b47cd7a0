"""``medsearch eval --mode``: text -> image by keyword and hybrid ranking, side by side with the
dense ranking, against a brute-force computation with each query's own caption left out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.encoders import Encoder
from indexer.errors import EvaluationInputError
from indexer.evaluation.dataset import open_eval_index
from indexer.evaluation.options import EvalOptions
from indexer.evaluation.run import evaluate
from indexer.settings import Settings
from indexer.storage.keyword_index import indexed_text
from tests.support.helpers import run_cli
from tests.unit.search.test_keywords import bm25, brute_rrf

MODES = ("dense", "keyword", "hybrid")


def first_ranks(index_dir: Path, mode: str, caption_vectors: np.ndarray) -> list[float]:
    """Rank of each captioned image for its own caption, the caption left out of its words."""
    index = open_eval_index(index_dir)
    rows = [r for r, record in enumerate(index.records) if record.caption]
    ranks = []
    for q, row in enumerate(rows):
        documents = {
            r: indexed_text(None if r == row else rec.caption, rec.modality, rec.extra)
            for r, rec in enumerate(index.records)
        }
        keyword = [r for r, _ in bm25(documents, str(index.records[row].caption))]
        dense = np.argsort(-(index.vectors @ caption_vectors[q]), kind="stable").tolist()
        ranking = {
            "dense": dense,
            "keyword": keyword,
            "hybrid": [r for r, _ in brute_rrf([dense[:100], keyword[:100]])],
        }[mode]
        ranks.append(ranking.index(row) + 1.0 if row in ranking else np.inf)
    return ranks


def test_each_mode_is_a_row_of_its_own_equal_to_brute_force(
    sample_index_dir: Path, tiny_encoder: Encoder
) -> None:
    options = EvalOptions(
        modes=MODES, bootstrap=0, settings=Settings(device="cpu", precision="fp32")
    )
    result = evaluate([sample_index_dir], options).indexes[0]
    index = open_eval_index(sample_index_dir)
    captions = [str(r.caption) for r in index.records if r.caption]
    vectors = np.asarray(tiny_encoder.encode_texts(captions), dtype=np.float32)
    for mode, task in zip(
        MODES, ["text_to_image", "text_to_image_keyword", "text_to_image_hybrid"], strict=True
    ):
        ranks = np.asarray(first_ranks(sample_index_dir, mode, vectors))
        figures = result.tasks[task].figures
        assert figures["R@1"].value == pytest.approx(float(np.mean(ranks <= 1)))
        assert figures["R@5"].value == pytest.approx(float(np.mean(ranks <= 5)))
        assert figures["MRR"].value == pytest.approx(float(np.mean(1 / ranks)), abs=1e-3)
    assert result.tasks["text_to_image_keyword"].n == len(captions)


def test_the_cli_shows_the_modes_with_intervals(sample_index_dir: Path) -> None:
    out = run_cli(
        "eval",
        sample_index_dir,
        "--mode",
        "keyword,hybrid",
        "--bootstrap",
        "50",
        "--json",
        "--device",
        "cpu",
    )
    document = json.loads(out)
    tasks = document["indexes"][0]
    assert {"text_to_image_keyword", "text_to_image_hybrid"} <= set(tasks)
    assert "text_to_image" not in tasks
    low, high = tasks["text_to_image_keyword"]["R@5_ci"]
    assert low <= tasks["text_to_image_keyword"]["R@5"] <= high
    assert document["settings"]["modes"] == ["keyword", "hybrid"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (EvalOptions(modes=("sparse",)), "--mode takes"),
        (EvalOptions(modes=("keyword",), collapse="label"), "rank images"),
    ],
)
def test_wrong_modes_are_refused(
    sample_index_dir: Path, options: EvalOptions, message: str
) -> None:
    with pytest.raises(EvaluationInputError, match=message):
        evaluate([sample_index_dir], options)
