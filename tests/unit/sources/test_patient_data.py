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
from indexer.imaging.case_keys import keyed_hash
from indexer.imaging.decode import load_image
from indexer.imaging.dicom import extract_metadata
from indexer.records import MetadataValue
from indexer.storage.folder import IndexFolder
from indexer.storage.group_key import read_group_key
from tests.support.helpers import CT_SERIES_DIR, SAMPLE_IMAGES, run_cli, tiny_model_args
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


#: a pseudonym secret for the tests (a site keeps its own out of every file)
PSEUDONYM_SECRET = "tests-only pseudonym secret 4f1d"


def ct_headers(corpus: Path) -> dict[str, Dataset]:
    """relpath -> header of every slice of a copy of :data:`CT_SERIES_DIR`."""
    return {
        str(path.relative_to(corpus)): pydicom.dcmread(path, stop_before_pixels=True)
        for path in sorted(corpus.rglob("*.dcm"))
    }


def indexed_fields(index_dir: Path) -> dict[str, dict[str, MetadataValue]]:
    """relpath -> stored metadata (``extra``) of every image of an index."""
    with IndexFolder(index_dir).open_store() as store:
        return {r.path: r.extra for r in store.get_many(store.ids()).values()}


def groups(values: dict[str, object]) -> set[frozenset[str]]:
    """The partition of the keys of ``values`` by value."""
    by_value: dict[object, set[str]] = {}
    for key, value in values.items():
        by_value.setdefault(value, set()).add(key)
    return {frozenset(members) for members in by_value.values()}


def stored_number(value: MetadataValue) -> float:
    """A stored number as a float (for sorting)."""
    assert isinstance(value, (int, float)), value
    return float(value)


def position_along_normal(header: Dataset) -> float:
    """ImagePositionPatient . (row cosines x column cosines), normalised, written out."""
    x, y, z = (float(v) for v in header.ImagePositionPatient)
    r1, r2, r3, c1, c2, c3 = (float(v) for v in header.ImageOrientationPatient)
    n1, n2, n3 = r2 * c3 - r3 * c2, r3 * c1 - r1 * c3, r1 * c2 - r2 * c1
    length = (n1 * n1 + n2 * n2 + n3 * n3) ** 0.5
    return (x * n1 + y * n2 + z * n3) / length


@pytest.mark.slow
def test_series_and_study_keys_group_real_ct_series_and_identify_nobody(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CT_SERIES_DIR, corpus, ignore=shutil.ignore_patterns("*.md", "*.py", "LICENSE"))
    headers = ct_headers(corpus)
    assert len(headers) == 250
    model = tiny_model_args(tiny_model_dir)

    # index A in two runs: half of the 140-slice series comes in the second
    first, second = tmp_path / "a", tmp_path / "b"
    held_back = sorted((corpus / "philips_s21570" / "s2020").glob("*.dcm"))[::2]
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in held_back:
        path.rename(aside / path.name)
    run_cli("index", corpus, "--index", first, *model)
    for path in held_back:
        (aside / path.name).rename(path)
    run_cli("index", corpus, "--index", first, *model)
    # index B, in one run, with a pseudonym secret
    monkeypatch.setenv("MEDSEARCH_PSEUDONYM_KEY", PSEUDONYM_SECRET)
    run_cli("index", corpus, "--index", second, *model)
    monkeypatch.delenv("MEDSEARCH_PSEUDONYM_KEY")

    a, b = indexed_fields(first), indexed_fields(second)
    assert set(a) == set(b) == set(headers)
    by_uid = {
        level: {p: str(h.get(f"{level}InstanceUID")) for p, h in headers.items()}
        for level in ("Series", "Study")
    }
    assert len(groups(dict(by_uid["Series"]))) == 4 and len(groups(dict(by_uid["Study"]))) == 3
    for fields, index_dir in ((a, first), (b, second)):
        key = read_group_key(index_dir)
        assert key is not None
        for level in ("Series", "Study"):
            stored = {p: f[f"{level.lower()}_key"] for p, f in fields.items()}
            assert groups(dict(stored)) == groups(dict(by_uid[level]))
            assert stored == {p: keyed_hash(uid, key) for p, uid in by_uid[level].items()}
    # two indexes, two group keys: no key in common
    assert not {f["series_key"] for f in a.values()} & {f["series_key"] for f in b.values()}

    # a patient key only with the secret, grouping like PatientID
    assert not any("patient_key" in f for f in a.values())
    patient_ids = {p: str(h.PatientID) for p, h in headers.items()}
    secret = PSEUDONYM_SECRET.encode()
    assert {p: f["patient_key"] for p, f in b.items()} == {
        p: keyed_hash(patient_id, secret) for p, patient_id in patient_ids.items()
    }
    assert len(groups(dict(patient_ids))) == 2

    # slices in the order of their position along the normal, computed here from the headers
    for series in groups(dict(by_uid["Series"])):
        expected = sorted(
            series,
            key=lambda p: (position_along_normal(headers[p]), int(headers[p].InstanceNumber)),
        )
        stored_order = sorted(
            series,
            key=lambda p: (
                stored_number(a[p]["slice_position"]),
                stored_number(a[p]["instance_number"]),
            ),
        )
        assert stored_order == expected
        for p in series:
            assert a[p]["slice_position"] == pytest.approx(
                position_along_normal(headers[p]), abs=1e-3
            )
            assert a[p]["instance_number"] == int(headers[p].InstanceNumber)

    # byte by byte, no identifying value in any file of either index (group_key included), nor
    # the secret; a value a header also holds in a stored field (a PatientName "HEAD" beside the
    # body part HEAD of another scan) is not a leak
    stored_values = {str(v) for h in headers.values() for v in extract_metadata(h).values()}
    secrets = {v for h in headers.values() for v in identifying_values(h)} - stored_values
    assert len(secrets) > 250 and "PLASTIC" in secrets
    for index_dir in (first, second):
        scratch = tmp_path / f"scratch-{index_dir.name}"
        scratch.mkdir()
        contents = index_bytes(index_dir, scratch)
        assert "group_key" in contents
        for needle in sorted(secrets | {PSEUDONYM_SECRET}):
            leaks = [name for name, data in contents.items() if needle.encode() in data]
            assert not leaks, f"{needle!r} found in {leaks}"
