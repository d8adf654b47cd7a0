"""Mistakes refused before a run writes anything: the wrong corpus, the wrong index folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from indexer.cli import cli
from tests.support.helpers import SAMPLE_IMAGES, tiny_model_args


def _index(corpus: Path, index_dir: Path, model: Path, *extra: str | Path) -> Result:
    args = ["index", corpus, "--index", index_dir, *tiny_model_args(model), *extra]
    return CliRunner().invoke(cli, [str(a) for a in args])


def _corpus(root: Path, *names: str) -> Path:
    root.mkdir(parents=True)
    for name in names:
        shutil.copy(SAMPLE_IMAGES / name, root / name)
    return root


def _refused(result: Result, *words: str) -> str:
    """The one-line error of a refused run (exit status 1)."""
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_an_empty_corpus_is_refused_and_makes_no_index(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    (tmp_path / "empty").mkdir()
    _refused(_index(tmp_path / "empty", tmp_path / "index", tiny_model_dir), "no image in")
    assert not (tmp_path / "index").exists()


def test_a_corpus_without_images_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = tmp_path / "notes"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "readme.txt").write_text("not an image")
    _refused(_index(corpus, tmp_path / "index", tiny_model_dir), "no image in", "DICOM")
    assert not (tmp_path / "index").exists()


def test_an_index_folder_given_as_the_corpus_is_refused(
    tmp_path: Path, tiny_model_dir: Path, sample_index_dir: Path
) -> None:
    result = _index(sample_index_dir, tmp_path / "index", tiny_model_dir)
    _refused(result, "is an index folder", "--index")
    assert not (tmp_path / "index").exists()


def test_the_corpus_as_its_own_index_folder_is_refused(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = _corpus(tmp_path / "corpus", "cxr_01.jpg")
    _refused(_index(corpus, corpus, tiny_model_dir), "is the corpus folder")
    assert [p.name for p in corpus.iterdir()] == ["cxr_01.jpg"]


def test_an_index_folder_that_holds_other_files_is_refused(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = _corpus(tmp_path / "corpus", "cxr_01.jpg")
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "thesis.docx").write_bytes(b"mine")
    _refused(_index(corpus, documents, tiny_model_dir), "holds other files", "thesis.docx")
    assert [p.name for p in documents.iterdir()] == ["thesis.docx"]


def test_a_file_given_as_the_corpus_says_so(tmp_path: Path, tiny_model_dir: Path) -> None:
    line = _refused(
        _index(SAMPLE_IMAGES / "cxr_01.jpg", tmp_path / "index", tiny_model_dir), "is a file"
    )
    assert "give the folder that holds the images" in line and "does not exist" not in line


def test_a_run_that_failed_before_writing_can_be_run_again(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """A run stopped by a wrong model leaves only the write lock: the folder is the index's."""
    corpus = _corpus(tmp_path / "corpus", "cxr_01.jpg")
    failed = _index(corpus, tmp_path / "index", tmp_path / "no-such-model")
    assert failed.exit_code == 1 and "--model DIR" in failed.output
    done = _index(corpus, tmp_path / "index", tiny_model_dir, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["count"] == 1
    again = _index(corpus, tmp_path / "index", tiny_model_dir, "--json")
    assert json.loads(again.output)["unchanged"] == 1


@pytest.mark.slow
def test_an_index_folder_inside_the_corpus_is_not_scanned(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = _corpus(tmp_path / "corpus", "cxr_01.jpg", "histo_01.png")
    index_dir = corpus / "search-index"
    first = json.loads(_index(corpus, index_dir, tiny_model_dir, "--json").output)
    assert (first["scanned"], first["count"], first["skipped"]) == (2, 2, {})
    # thumbnails the service renders there are images, but not the corpus's
    (index_dir / "thumbnails").mkdir()
    shutil.copy(SAMPLE_IMAGES / "cxr_02.jpg", index_dir / "thumbnails" / "1.jpg")
    again = json.loads(_index(corpus, index_dir, tiny_model_dir, "--json").output)
    assert (again["scanned"], again["unchanged"], again["count"]) == (2, 2, 2)
