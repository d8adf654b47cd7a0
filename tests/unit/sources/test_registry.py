"""Choosing the source of a corpus (a folder or a DICOMweb URL), and what the source of an index
gives the search page: its originals and its viewer links."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.errors import IndexCorruptError, InvalidRequestError, NotFoundError, SourceOptionError
from indexer.records import InstanceUIDs
from indexer.settings import Settings
from indexer.sources.dicomweb import DicomWebSource, relpath_for
from indexer.sources.folder import FolderSource
from indexer.sources.registry import SOURCE_KINDS, indexed_source, open_source, source_kind

#: nothing listens on the discard port: opening a DICOMweb source must not ask the PACS anything
UNREACHABLE_PACS = "http://127.0.0.1:9/dicom-web/"
VIEWER = "https://viewer.example/view?study={study_uid}&series={series_uid}"
UIDS = InstanceUIDs("1.2.3", "1.2.3.4", "1.2.3.4.5")


def test_a_url_names_a_pacs_and_anything_else_a_folder(tmp_path: Path) -> None:
    assert [kind.name for kind in SOURCE_KINDS] == ["dicomweb", "folder"]
    assert source_kind(UNREACHABLE_PACS).name == "dicomweb"
    assert source_kind("HTTPS://pacs.example/dicom-web").name == "dicomweb"
    assert source_kind(tmp_path).name == "folder"
    assert source_kind("data/sample").name == "folder"


def test_open_source_opens_the_kind_the_corpus_names(tmp_path: Path) -> None:
    folder = open_source(tmp_path, Settings())
    assert isinstance(folder, FolderSource) and folder.root == str(tmp_path.resolve())
    pacs = open_source(UNREACHABLE_PACS, Settings(), selection=["Modality=CT", "StudyDate=2020"])
    assert isinstance(pacs, DicomWebSource)
    assert pacs.root == UNREACHABLE_PACS.rstrip("/")
    assert pacs.filters == {"Modality": "CT", "StudyDate": "2020"}


def test_a_folder_to_index_must_exist_and_takes_no_selection(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="does not exist"):
        open_source(tmp_path / "nope", Settings())
    with pytest.raises(SourceOptionError):
        open_source(tmp_path, Settings(), selection=["Modality=CT"])
    with pytest.raises(InvalidRequestError, match="is not KEY=VALUE"):
        open_source(UNREACHABLE_PACS, Settings(), selection=["Modality"])


def test_a_folder_gives_its_files_as_originals_and_no_viewer_links(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.png").write_bytes(b"png")
    source = indexed_source(str(tmp_path), Settings(viewer_url=VIEWER))
    assert source.original("sub/a.png", None) == tmp_path / "sub" / "a.png"
    with pytest.raises(NotFoundError, match="no longer available"):
        source.original("sub/gone.png", None)
    assert source.viewer_links({1: UIDS}) == {}


def test_the_source_of_an_index_whose_folder_is_gone_still_opens(tmp_path: Path) -> None:
    source = indexed_source(str(tmp_path / "moved-away"), Settings())
    with pytest.raises(NotFoundError):
        source.original("a.png", None)


def test_a_pacs_links_each_instance_into_the_viewer_setting() -> None:
    other = InstanceUIDs("9.8", "9.8.7&x", "9.8.7.6")
    source = indexed_source(UNREACHABLE_PACS, Settings(viewer_url=VIEWER))
    assert source.viewer_links({4: UIDS, 7: other}) == {
        4: "https://viewer.example/view?study=1.2.3&series=1.2.3.4",
        7: "https://viewer.example/view?study=9.8&series=9.8.7%26x",
    }
    assert indexed_source(UNREACHABLE_PACS, Settings()).viewer_links({4: UIDS}) == {}


def test_a_pacs_instance_without_identifiers_has_no_original() -> None:
    source = indexed_source(UNREACHABLE_PACS, Settings())
    with pytest.raises(NotFoundError, match="no DICOM identifiers"):
        source.original(relpath_for(UIDS), None)


def test_an_index_without_a_recorded_corpus_cannot_locate_its_originals() -> None:
    with pytest.raises(IndexCorruptError, match="records no corpus_root"):
        indexed_source(None, Settings())
