"""The keyword index holds exactly the words of the rows after every kind of write, is built for
an index made before it, and is asked for by name when missing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from indexer.errors import InvalidRequestError
from indexer.records import MetadataValue
from indexer.storage import keyword_index
from indexer.storage.metadata_db import Store
from tests.support.helpers import SAMPLE_IMAGES, run_cli, tiny_model_args
from tests.unit.storage.test_writer import _row

WORDS = ["effusion", "pneumothorax", "nodule", "fracture", "Ödem"]


def held(db: Path) -> dict[int, str]:
    with sqlite3.connect(db) as connection:
        return dict(connection.execute(f"SELECT rowid, body FROM {keyword_index.TABLE}"))


def expected(db: Path) -> dict[int, str]:
    """The words of every row, from the rows themselves."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT id, caption, modality, extra FROM images")
        return {
            i: keyword_index.indexed_text(c, m, json.loads(e) if e else None) for i, c, m, e in rows
        }


def captioned(first: int, n: int) -> list[dict[str, object]]:
    return [
        _row(
            i,
            caption=f"a {WORDS[i % 5]} seen" if i % 4 else None,
            modality=["CT", "MR", None][i % 3],
            extra={"finding": WORDS[(i + 1) % 5], "size_mm": i, "source": "zenodo", "x_key": "k"},
        )
        for i in range(first, first + n)
    ]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "meta.sqlite", create=True)


def test_the_words_follow_inserts_deletes_sidecars_and_updates(store: Store) -> None:
    with store.writer() as w:
        ids = w.add_images(captioned(0, 40))
    assert held(store.path) == expected(store.path) and len(held(store.path)) == 40
    with store.writer() as w:
        rows = captioned(500, 5)
        w.insert_rows([{**r, "id": 1000 + i, "indexed_at": 0.0} for i, r in enumerate(rows)])
    assert held(store.path) == expected(store.path)
    with store.writer() as w:
        w.delete_images(ids[::3])
    assert held(store.path) == expected(store.path)
    sidecar: dict[str, dict[str, MetadataValue]] = {
        f"images/{n:05d}.png": {"caption": "now an atelectasis", "finding": "calcified"}
        for n in range(1, 40, 4)
    }
    with store.writer() as w:
        assert w.apply_sidecar(sidecar) > 0
    with store.writer() as w:
        assert w.update_extra({"images/00002.png": {"finding": "granuloma"}}) == 1
    assert held(store.path) == expected(store.path)
    scores, found = keyword_index.ranking(store.engine, ["atelectasis"])
    assert sorted(found.tolist()) == sorted(
        i for i, body in expected(store.path).items() if "atelectasis" in body
    )
    assert keyword_index.ranking(store.engine, ["granuloma"])[1].tolist() == [3]
    # provenance and identifier fields are not searched
    assert keyword_index.ranking(store.engine, ["zenodo"])[1].size == 0
    assert keyword_index.ranking(store.engine, ["odem"])[1].size > 0  # accents ignored


def test_a_rolled_back_write_leaves_the_words(store: Store) -> None:
    with store.writer() as w:
        w.add_images(captioned(0, 6))
    before = held(store.path)
    with pytest.raises(RuntimeError), store.writer() as w:
        w.add_images(captioned(100, 6))
        w.delete_images([1, 2])
        raise RuntimeError("the vectors could not be written")
    assert held(store.path) == before == expected(store.path)


def test_an_index_from_before_the_table_is_refused_then_filled_when_written(
    tmp_path: Path,
) -> None:
    db = tmp_path / "meta.sqlite"
    with Store(db, create=True) as store, store.writer() as w:
        w.add_images(captioned(0, 30))
    with sqlite3.connect(db) as connection:
        connection.execute(f"DROP TABLE {keyword_index.TABLE}")  # as an older MedSearch left it
    with Store(db) as old, pytest.raises(InvalidRequestError, match="re-run medsearch index"):
        keyword_index.ranking(old.engine, ["nodule"])
    with Store(db, create=True):
        pass
    assert held(db) == expected(db) and len(held(db)) == 30


def test_incremental_runs_keep_keyword_search_in_step(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("cxr_01.jpg", "cxr_02.jpg", "cxr_03.jpg"):
        shutil.copy(SAMPLE_IMAGES / name, corpus / name)
    sidecar = tmp_path / "metadata.csv"
    index = tmp_path / "index"
    args: list[str | Path] = [*tiny_model_args(tiny_model_dir), "--metadata", sidecar]

    def keyword_hits(query: str) -> dict[str, list[str]]:
        out = run_cli("search", index, "--text", query, "--mode", "keyword", "--json")
        return {Path(h["path"]).name: h["matched_terms"] for h in json.loads(out)["results"]}

    sidecar.write_text("path,caption\ncxr_01.jpg,left effusion\ncxr_02.jpg,a nodule\n")
    run_cli("index", corpus, "--index", index, *args)
    assert keyword_hits("effusion nodule") == {
        "cxr_01.jpg": ["effusion"],
        "cxr_02.jpg": ["nodule"],
    }
    sidecar.write_text("path,caption\ncxr_01.jpg,left effusion\ncxr_02.jpg,a cavity\n")
    run_cli("index", corpus, "--index", index, *args)
    assert keyword_hits("nodule cavity") == {"cxr_02.jpg": ["cavity"]}
    (corpus / "cxr_01.jpg").unlink()
    run_cli("index", corpus, "--index", index, *args, "--prune")
    assert keyword_hits("effusion") == {}
    assert held(index / "meta.sqlite") == expected(index / "meta.sqlite")
    printed = run_cli("search", index, "--text", "Cavity", "--mode", "keyword")
    assert "matched: cavity" in printed and "cxr_02.jpg" in printed
