"""Series and study keys of instances indexed from a real PACS (Orthanc over DICOMweb): the same
as those of the same files indexed from a folder with the same group key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from indexer.imaging.case_keys import keyed_hash
from tests.support.helpers import CT_SERIES_DIR, run_cli, seed_group_key, tiny_model_args
from tests.support.orthanc import missing as orthanc_missing
from tests.support.orthanc import running_orthanc
from tests.unit.sources.test_pacs import stored_identifiers
from tests.unit.sources.test_patient_data import indexed_fields

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(orthanc_missing() is not None, reason=orthanc_missing() or ""),
]

CASE_FIELDS = ("series_key", "study_key", "instance_number", "slice_position")


def test_a_pacs_instance_gets_the_keys_of_its_file(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # three slices of each of two series, of two studies
    files = [
        *sorted((CT_SERIES_DIR / "philips_s21570" / "s2010").glob("*.dcm"))[:3],
        *sorted((CT_SERIES_DIR / "ge").glob("*.dcm"))[:3],
    ]
    corpus = tmp_path / "corpus"
    for path in files:
        target = corpus / path.relative_to(CT_SERIES_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    pacs_index, folder_index = tmp_path / "pacs-index", tmp_path / "folder-index"
    key = seed_group_key(pacs_index, 7)
    seed_group_key(folder_index, 7)
    model = tiny_model_args(tiny_model_dir)
    with running_orthanc(tmp_path / "orthanc") as pacs:
        assert pacs.upload(files) == len(files)
        pacs.use_credentials(monkeypatch)
        run_cli("index", pacs.dicomweb, "--index", pacs_index, *model)
    run_cli("index", corpus, "--index", folder_index, *model)

    from_pacs = indexed_fields(pacs_index)
    by_sop = {
        uids[2]: from_pacs[relpath] for relpath, uids in stored_identifiers(pacs_index).items()
    }
    from_folder = indexed_fields(folder_index)
    assert len(by_sop) == len(from_folder) == len(files)
    for relpath, fields in from_folder.items():
        header = pydicom.dcmread(corpus / relpath, stop_before_pixels=True)
        from_the_pacs = by_sop[str(header.SOPInstanceUID)]
        assert {f: from_the_pacs[f] for f in CASE_FIELDS} == {f: fields[f] for f in CASE_FIELDS}
        assert fields["series_key"] == keyed_hash(str(header.SeriesInstanceUID), key)
        assert fields["study_key"] == keyed_hash(str(header.StudyInstanceUID), key)
    assert len({f["series_key"] for f in by_sop.values()}) == 2
    assert len({f["study_key"] for f in by_sop.values()}) == 2
