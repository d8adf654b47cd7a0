"""One rule for "similar images" everywhere: the query image is left out of its results."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from indexer.cli import cli
from indexer.search.retriever import Retriever


def test_search_by_id_leaves_the_query_image_out(
    sample_index_dir: Path, retriever: Retriever
) -> None:
    result = CliRunner().invoke(
        cli, ["search", str(sample_index_dir), "--id", "5", "-k", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    ids = [hit["id"] for hit in json.loads(result.stdout)["results"]]
    assert len(ids) == 4 and 5 not in ids
    # the same images as the similar-images route's search, which excludes the image itself
    similar = retriever.search(image_id=5, k=4, exclude_ids={5}).hits
    assert ids == [hit.id for hit in similar]
