"""No patient data in the index: identifying values never reach any file of an index folder,
descriptions only when asked, and burned-in text is flagged (by the tag, the modality or OCR)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from indexer.imaging.burned_in import has_burned_in_text
from indexer.imaging.decode import load_image
from indexer.storage.folder import IndexFolder
from tests.support.helpers import SAMPLE_IMAGES, run_cli, tiny_model_args
from tests.support.orthanc import PACS_FILES

#: keywords whose values identify a patient, a site or a person
PHI_KEYWORDS = frozenset(
    {
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "OtherPatientIDs",
        "OtherPatientNames",
        "AccessionNumber",
        "InstitutionName",
        "InstitutionAddress",
        "InstitutionalDepartmentName",
        "ReferringPhysicianName",
        "PerformingPhysicianName",
        "NameOfPhysiciansReadingStudy",
        "PhysiciansOfRecord",
        "OperatorsName",
        "RequestingPhysician",
    }
)
#: UIDs defined by the DICOM standard itself (SOP classes, transfer syntaxes) identify nobody
STANDARD_UID_ROOT = "1.2.840.10008."


def identifying_values(dataset: Dataset) -> Iterator[str]:
    """Every PHI value and every instance-specific UID, nested sequences included."""
    with pydicom.config.disable_value_validation():  # real files hold over-long values too
        elements = list(dataset.iterall())
    for element in elements:
        if element.keyword not in PHI_KEYWORDS and element.VR != "UI":
            continue
        values = element.value if element.VM > 1 else [element.value]
        for value in values:
            text = str(value or "").strip().strip("\x00").strip()
            if element.VR == "UI" and text.startswith(STANDARD_UID_ROOT):
                continue
            # a person name as stored (Doe^Jane) and as it would be shown (Doe Jane)
            forms = {text, " ".join(text.replace("^", " ").split())}
            yield from (form for form in forms if len(form) >= 4)


def index_bytes(index_dir: Path, scratch: Path) -> dict[str, bytes]:
    """Every file of an index folder; the database without its DICOM identifiers table."""
    contents = {}
    for path in sorted(index_dir.rglob("*")):
        if path.is_file() and not path.name.startswith(IndexFolder(index_dir).db_path.name):
            contents[str(path.relative_to(index_dir))] = path.read_bytes()
    copy = scratch / "without-identifiers.sqlite"
    source = sqlite3.connect(IndexFolder(index_dir).db_path)
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.execute("DROP TABLE IF EXISTS dicom_identifiers")
    target.execute("PRAGMA journal_mode=DELETE")
    target.commit()
    target.execute("VACUUM")
    target.close()
    contents["meta.sqlite (identifiers table aside)"] = copy.read_bytes()
    return contents


@pytest.mark.slow
def test_no_identifying_value_reaches_any_file_of_an_index(
    sample_index_dir: Path, pacs_index_dir: Path, tmp_path: Path
) -> None:
    sample_dicoms = sorted(SAMPLE_IMAGES.glob("*.dcm"))
    checked = 0
    for index_dir, dicoms in ((sample_index_dir, sample_dicoms), (pacs_index_dir, PACS_FILES)):
        scratch = tmp_path / index_dir.parent.name
        scratch.mkdir()
        contents = index_bytes(index_dir, scratch)
        assert {"index_info.json", "meta.sqlite (identifiers table aside)"} <= set(contents)
        secrets = {value for path in dicoms for value in identifying_values(pydicom.dcmread(path))}
        assert len(secrets) > 50
        for secret in sorted(secrets):
            needle = secret.encode("utf-8")
            leaks = [name for name, data in contents.items() if needle in data]
            assert not leaks, f"{secret!r} found in {leaks}"
            checked += 1
    assert checked > 100
    # the search does see into SQLite: the PACS index's own identifiers table holds the UIDs
    db = IndexFolder(pacs_index_dir).db_path
    raw = b"".join(path.read_bytes() for path in db.parent.glob(db.name + "*"))
    sop_uids = {str(pydicom.dcmread(path).SOPInstanceUID) for path in PACS_FILES}
    assert any(uid.encode() in raw for uid in sop_uids)


def test_descriptions_are_stored_only_when_asked(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE_IMAGES / "dcm_us_echo.dcm", corpus)
    plain, kept = tmp_path / "plain", tmp_path / "kept"
    run_cli("index", corpus, "--index", plain, *tiny_model_args(tiny_model_dir))
    model = tiny_model_args(tiny_model_dir)
    run_cli("index", corpus, "--index", kept, *model, "--keep-descriptions")
    with IndexFolder(plain).open_store() as store:
        extra = store.get(int(store.ids()[0])).extra
        assert "series_description" not in extra and "study_description" not in extra
        assert extra["burned_in_annotation"] == "unknown"  # US without the tag
        assert "burned_in_annotation" in store.filterable_fields()
    with IndexFolder(kept).open_store() as store:
        extra = store.get(int(store.ids()[0])).extra
        assert extra["series_description"] == "Transesophageal Echocardiogram"
        assert extra["study_description"] == "Echocardiogram"


needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract is not installed (tesseract-ocr)"
)


@needs_tesseract
def test_ocr_finds_the_burned_in_text_of_the_kidney_ultrasound_and_none_on_ct() -> None:
    assert has_burned_in_text(load_image(SAMPLE_IMAGES / "dcm_us_kidney.dcm").image)
    for name in ("dcm_ct_small.dcm", "dcm_ct_head.dcm", "dcm_ct_abdomen.dcm"):
        assert not has_burned_in_text(load_image(SAMPLE_IMAGES / name).image), name


@needs_tesseract
@pytest.mark.slow
def test_ocr_settles_unknown_images_while_indexing(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = ("dcm_us_obstetric.dcm", "dcm_ct_abdomen.dcm", "dcm_us_kidney.dcm", "dcm_ct_head.dcm")
    for name in names:
        shutil.copy(SAMPLE_IMAGES / name, corpus)
    index_dir = tmp_path / "index"
    model = tiny_model_args(tiny_model_dir)
    run_cli("index", corpus, "--index", index_dir, *model, "--ocr-burned-in")
    with IndexFolder(index_dir).open_store() as store:
        extras = {record.path: record.extra for record in store.get_many(store.ids()).values()}
    # the obstetric ultrasound has no tag but shows text; the secondary-capture CT shows none
    assert extras["dcm_us_obstetric.dcm"]["burned_in_annotation"] == "yes"
    assert extras["dcm_us_obstetric.dcm"]["burned_in_checked_by"] == "ocr"
    assert extras["dcm_ct_abdomen.dcm"]["burned_in_annotation"] == "no"
    assert extras["dcm_ct_abdomen.dcm"]["burned_in_checked_by"] == "ocr"
    # the tag decides where it is present; other modalities are not read
    assert extras["dcm_us_kidney.dcm"]["burned_in_annotation"] == "yes"
    assert "burned_in_checked_by" not in extras["dcm_us_kidney.dcm"]
    assert extras["dcm_ct_head.dcm"] == {**extras["dcm_ct_head.dcm"], "burned_in_annotation": "no"}
    assert "burned_in_checked_by" not in extras["dcm_ct_head.dcm"]
