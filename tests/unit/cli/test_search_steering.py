"""``medsearch search --minus-text --like-id --unlike-id`` on the real sample index, against
brute force over the stored vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from indexer.cli import cli
from indexer.cli.options import USAGE_EXIT_CODE
from indexer.search.retriever import Retriever
from tests.support.helpers import SAMPLE_COUNT, SAMPLE_IMAGES


def run_search(index_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["search", str(index_dir), *args])
    return result.exit_code, result.stdout if "--json" in args else result.output


def ranked_ids(out: str) -> list[int]:
    return [hit["id"] for hit in json.loads(out)["results"]]


def brute_force(retriever: Retriever, units: list[np.ndarray], weights: list[float]) -> list[int]:
    ids = np.arange(1, SAMPLE_COUNT + 1)
    vectors = retriever.vectors_for(ids.tolist()).astype(np.float64)
    sums = vectors @ np.stack(units).astype(np.float64).T @ np.asarray(weights)
    return ids[np.argsort(-sums, kind="stable")].tolist()


def test_text_minus_text_like_and_unlike_ids(sample_index_dir: Path, retriever: Retriever) -> None:
    args = ["--text", "chest x-ray", "--minus-text", "lateral view", "--minus-text", "CT"]
    args += ["--like-id", "5", "--unlike-id", "11", "--unlike-id", "12", "-k", "32", "--json"]
    code, out = run_search(sample_index_dir, *args)
    assert code == 0, out
    texts = retriever.encoder.encode_texts(["chest x-ray", "lateral view", "CT"])
    stored = retriever.vectors_for([5, 11, 12])
    units = [texts[0], texts[1], texts[2], stored[0], stored[1], stored[2]]
    expected = brute_force(retriever, units, [1, -1, -1, 1, -1, -1])
    assert ranked_ids(out) == [i for i in expected if i not in (5, 11, 12)]


def test_an_image_file_and_an_id_join_the_steered_query(
    sample_index_dir: Path, retriever: Retriever
) -> None:
    image = SAMPLE_IMAGES / "cxr_01.jpg"
    args = ["--image", str(image), "--id", "2", "--unlike-id", "3", "-k", "32", "--json"]
    code, out = run_search(sample_index_dir, *args)
    assert code == 0, out
    with Image.open(image) as opened:
        image_unit = retriever.encoder.encode_images([opened])[0]
    stored = retriever.vectors_for([2, 3])
    expected = brute_force(retriever, [image_unit, stored[0], stored[1]], [1, 1, -1])
    assert ranked_ids(out) == [i for i in expected if i not in (2, 3)]


def test_like_ids_alone_are_a_query(sample_index_dir: Path, retriever: Retriever) -> None:
    code, out = run_search(sample_index_dir, "--like-id", "7", "--like-id", "8", "--json")
    assert code == 0, out
    stored = retriever.vectors_for([7, 8])
    expected = brute_force(retriever, [stored[0], stored[1]], [1, 1])
    assert ranked_ids(out) == [i for i in expected if i not in (7, 8)][:10]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--unlike-id", "3"], "at least one positive weight"),
        (["--minus-text", "x"], "at least one positive weight"),
        (["--text", "x", "--minus-text", "x"], "cancel out"),
        (["--text", " ", "--unlike-id", "1"], "--text needs words"),
        (["--group", "g", "--like-id", "1"], "--group is a query of its own"),
    ],
)
def test_steering_usage_errors(sample_index_dir: Path, args: list[str], message: str) -> None:
    code, out = run_search(sample_index_dir, *args)
    assert code == USAGE_EXIT_CODE, out
    assert message in out


def test_an_unknown_like_id_is_not_found(sample_index_dir: Path) -> None:
    code, out = run_search(sample_index_dir, "--text", "x", "--like-id", "999999")
    assert code != 0
    assert "999999" in out
