"""``--slices N`` against a real PACS (Orthanc over DICOMweb) holding two CT series: series are
listed first, and only the chosen instances are retrieved, the same ones a folder would give."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from indexer.encoders import Encoder
from indexer.indexing.pipeline import index_corpus
from indexer.indexing.slice_sampling import plan_slices
from indexer.settings import Settings
from indexer.sources.base import CorpusFile
from indexer.sources.dicomweb import DicomWebSource
from indexer.sources.folder import FolderSource
from indexer.storage.folder import IndexFolder
from tests.support.helpers import REPO
from tests.support.orthanc import PASSWORD, USER, running_orthanc
from tests.support.orthanc import missing as orthanc_missing

pytestmark = pytest.mark.slow

#: two series of 28 slices (one of them with variable spacing), in two studies
SERIES = (REPO / "tests/data/ct_series/philips_s21570/s2010", REPO / "tests/data/ct_series/ge")


class CountingSource(DicomWebSource):
    """The real DICOMweb source, counting the instances it retrieves."""

    retrieved = 0

    def read(self, file: CorpusFile) -> bytes:
        data = super().read(file)
        self.retrieved += 1
        return data


def _chosen_by_folder(slices: int) -> set[str]:
    """SOP Instance UIDs a folder corpus of the same series would take."""
    chosen: set[str] = set()
    for folder in SERIES:
        source = FolderSource(folder)
        plan = plan_slices(source.slice_places(source.scan()), slices)
        paths = [folder / p for p in plan.series_slices if p not in plan.left_out]
        chosen |= {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in paths}
    return chosen


def _indexed_sops(index_dir: Path) -> tuple[set[str], set[int]]:
    """SOP Instance UIDs the index holds, and the series_slices values it records."""
    with IndexFolder(index_dir).open_store() as store:
        records = store.get_many(store.ids())
        sops = {store.identifiers(image_id).sop_uid for image_id in records}  # type: ignore[union-attr]
        return sops, {int(r.extra["series_slices"]) for r in records.values()}  # type: ignore[arg-type]


def test_only_the_chosen_instances_are_retrieved(tmp_path: Path, tiny_encoder: Encoder) -> None:
    reason = orthanc_missing()
    if reason:
        pytest.skip(reason)
    with running_orthanc(tmp_path / "pacs") as pacs:
        assert pacs.upload(sorted(p for folder in SERIES for p in folder.iterdir())) == 56
        index_dir = tmp_path / "index"

        def run(slices: str) -> tuple[int, dict[str, object]]:
            settings = Settings(
                index_dir=index_dir,
                device="cpu",
                precision="fp32",
                slices=slices,
                dicomweb_user=USER,
                dicomweb_password=PASSWORD,
            )
            source = CountingSource(pacs.dicomweb, settings)
            report = index_corpus(settings, source, encoder=tiny_encoder)
            return source.retrieved, report.to_dict()

        listing = DicomWebSource(
            pacs.dicomweb, Settings(dicomweb_user=USER, dicomweb_password=PASSWORD)
        )
        places = listing.slice_places(listing.scan()).values()
        assert len(places) == 56 and len({place.series_uid for place in places}) == 2
        assert all(None not in (p.position, p.instance_number, p.study_uid) for p in places)

        retrieved, report = run("4")
        assert (retrieved, report["scanned"], report["slices_left_out"]) == (8, 56, 48)
        sops, counts = _indexed_sops(index_dir)
        assert sops == _chosen_by_folder(4) and counts == {28}

        retrieved, report = run("8")
        assert (retrieved, report["unchanged"], report["embedded"]) == (8, 8, 8)
        sops, _ = _indexed_sops(index_dir)
        assert sops == _chosen_by_folder(8)

        retrieved, report = run("2")
        assert (retrieved, report["slices_removed"]) == (0, 12)
        assert _indexed_sops(index_dir)[0] == _chosen_by_folder(2)
