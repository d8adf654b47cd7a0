"""DICOM rendering (LUTs, windows, photometrics, frames) and the safe-tag allowlist."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut
from pydicom.sequence import Sequence
from pydicom.uid import MPEG2MPML, UID

from indexer.errors import UnreadableImageError
from indexer.imaging.case_keys import PLACE_FIELDS
from indexer.imaging.dicom import SAFE_TAGS, extract_metadata, read_dicom
from tests.support.helpers import SAMPLE_IMAGES

STORED_FIELDS = {*SAFE_TAGS.values(), *PLACE_FIELDS, "burned_in_annotation"}
SAMPLE_DICOMS = sorted(SAMPLE_IMAGES.glob("*.dcm"))

#: identifying elements that must never reach the metadata
PHI_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientAddress",
    "OtherPatientIDs",
    "AccessionNumber",
    "InstitutionName",
    "InstitutionAddress",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "OtherPatientNames",
    "PatientTelephoneNumbers",
    "StudyID",
    "StudyDate",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
)


def pydicom_file(name: str) -> Path:
    """A test file shipped with pydicom or pydicom-data (never downloaded)."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} needs the pydicom-data package")
    return Path(path)


def dicom_bytes(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def grey(image: object) -> np.ndarray:
    pixels = np.asarray(image)
    assert pixels.ndim == 3 and pixels.shape[2] == 3
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    return pixels[..., 0].astype(int)


def stretched(values: np.ndarray) -> np.ndarray:
    values = values.astype(float)
    return np.rint((values - values.min()) / (values.max() - values.min()) * 255)


def reason_of(source: Path | bytes, **options: Any) -> str:
    with pytest.raises(UnreadableImageError) as caught:
        read_dicom(source, **options)
    return caught.value.reason


def test_sample_corpus_has_thirteen_dicoms() -> None:
    assert len(SAMPLE_DICOMS) == 13


@pytest.mark.parametrize("path", SAMPLE_DICOMS, ids=lambda path: path.name)
def test_every_sample_dicom_renders(path: Path) -> None:
    image, metadata = read_dicom(path)
    dataset = pydicom.dcmread(path)
    assert image.mode == "RGB"
    assert image.size == (dataset.Columns, dataset.Rows)
    assert np.asarray(image).std() > 5
    assert metadata["modality"] == dataset.Modality
    assert metadata["rows"] == dataset.Rows and metadata["columns"] == dataset.Columns
    assert metadata["transfer_syntax"] == dataset.file_meta.TransferSyntaxUID.name
    assert set(metadata) <= STORED_FIELDS
    assert all(type(value) in (str, int, float) for value in metadata.values())


def test_bytes_and_path_give_the_same_result() -> None:
    path = SAMPLE_IMAGES / "dcm_ct_head.dcm"
    from_path = read_dicom(path)
    from_bytes = read_dicom(path.read_bytes())
    assert np.array_equal(np.asarray(from_path[0]), np.asarray(from_bytes[0]))
    assert from_path[1] == from_bytes[1]


@pytest.mark.parametrize(
    "name", ["dcm_mr_small.dcm", "dcm_ct_head.dcm", "dcm_cr_tibia.dcm", "dcm_mr_shoulder.dcm"]
)
def test_window_matches_pydicom(name: str) -> None:
    """Rescale then the first window, over the window's full output range."""
    path = SAMPLE_IMAGES / name
    dataset = pydicom.dcmread(path)
    windowed = apply_voi_lut(apply_modality_lut(dataset.pixel_array, dataset), dataset)
    bits = dataset.BitsStored
    low, high = (
        (0, 2**bits - 1)
        if dataset.PixelRepresentation == 0
        else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    )
    if "RescaleSlope" in dataset:
        low = low * dataset.RescaleSlope + dataset.RescaleIntercept
        high = high * dataset.RescaleSlope + dataset.RescaleIntercept
    expected = np.rint((windowed - low) / (high - low) * 255)
    if dataset.PhotometricInterpretation == "MONOCHROME1":
        expected = 255 - expected
    rendered = grey(read_dicom(path)[0])
    assert np.abs(rendered - expected).max() <= 1


def test_no_window_uses_the_image_range() -> None:
    path = SAMPLE_IMAGES / "dcm_ct_small.dcm"
    dataset = pydicom.dcmread(path)
    assert "WindowCenter" not in dataset
    rendered = grey(read_dicom(path)[0])
    assert np.abs(rendered - stretched(dataset.pixel_array)).max() <= 1


def test_monochrome1_is_inverted() -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / "dcm_mr_small.dcm")
    normal = grey(read_dicom(dicom_bytes(dataset))[0])
    dataset.PhotometricInterpretation = "MONOCHROME1"
    inverted = grey(read_dicom(dicom_bytes(dataset))[0])
    assert normal.std() > 20
    assert np.array_equal(inverted, 255 - normal)


def test_multi_frame_shows_the_middle_frame() -> None:
    path = SAMPLE_IMAGES / "dcm_mr_multiframe.dcm"
    dataset = pydicom.dcmread(path)
    frames = dataset.pixel_array
    assert frames.shape == (10, 64, 64) and int(dataset.NumberOfFrames) == 10
    rendered = grey(read_dicom(path)[0])
    assert np.abs(rendered - stretched(frames[5])).max() <= 1
    assert np.abs(rendered - stretched(frames[0])).max() > 10
    _, metadata = read_dicom(path)
    assert metadata["number_of_frames"] == 10


def test_multi_frame_uncompressed_eight_bit() -> None:
    path = pydicom_file("liver.dcm")
    frames = pydicom.dcmread(path).pixel_array
    assert frames.shape[0] == 3
    rendered = grey(read_dicom(path)[0])
    assert np.abs(rendered - stretched(frames[1])).max() <= 1


def test_enhanced_functional_groups_rescale_and_window() -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / "dcm_mr_multiframe.dcm")
    transform = Dataset()
    transform.RescaleSlope = "2"
    transform.RescaleIntercept = "-100"
    transform.RescaleType = "US"
    window = Dataset()
    window.WindowCenter = "300"
    window.WindowWidth = "400"
    shared = Dataset()
    shared.PixelValueTransformationSequence = Sequence([transform])
    shared.FrameVOILUTSequence = Sequence([window])
    dataset.SharedFunctionalGroupsSequence = Sequence([shared])
    rendered = grey(read_dicom(dicom_bytes(dataset))[0])
    values = dataset.pixel_array[5].astype(float) * 2 - 100
    expected = np.clip(np.rint(((values - 299.5) / 399 + 0.5) * 255), 0, 255)
    assert np.abs(rendered - expected).max() <= 1


def test_modality_lut_sequence() -> None:
    path = pydicom_file("mlut_18.dcm")
    dataset = pydicom.dcmread(path)
    assert "ModalityLUTSequence" in dataset and "WindowCenter" not in dataset
    expected = stretched(apply_modality_lut(dataset.pixel_array, dataset))
    assert np.abs(grey(read_dicom(path)[0]) - expected).max() <= 1


def test_voi_lut_sequence() -> None:
    path = pydicom_file("vlut_04.dcm")
    dataset = pydicom.dcmread(path)
    assert "VOILUTSequence" in dataset
    expected = stretched(apply_voi_lut(apply_modality_lut(dataset.pixel_array, dataset), dataset))
    assert np.abs(grey(read_dicom(path)[0]) - expected).max() <= 1


def test_palette_colour() -> None:
    path = SAMPLE_IMAGES / "dcm_us_obstetric.dcm"
    dataset = pydicom.dcmread(path)
    assert dataset.PhotometricInterpretation == "PALETTE COLOR"
    expected = apply_color_lut(dataset.pixel_array, dataset)
    if expected.dtype != np.uint8:
        expected = np.rint(
            expected / (2 ** dataset.RedPaletteColorLookupTableDescriptor[2] - 1) * 255
        )
    assert np.array_equal(np.asarray(read_dicom(path)[0]), expected)


@pytest.mark.parametrize("name", ["SC_ybr_full_uncompressed.dcm", "SC_rgb_jpeg_dcmtk.dcm"])
def test_ybr_colour_is_converted_to_rgb(name: str) -> None:
    path = pydicom_file(name)
    expected = pydicom.dcmread(path).pixel_array  # converted to RGB by pydicom
    rendered = np.asarray(read_dicom(path)[0]).astype(int)
    assert rendered.shape == expected.shape
    assert np.abs(rendered - expected).max() <= 1
    assert (rendered[..., 0] != rendered[..., 1]).any()  # really in colour


def test_sixteen_bit_rgb() -> None:
    path = pydicom_file("SC_rgb_16bit.dcm")
    dataset = pydicom.dcmread(path)
    expected = np.rint(dataset.pixel_array / (2**dataset.BitsStored - 1) * 255)
    assert np.abs(np.asarray(read_dicom(path)[0]) - expected).max() <= 1


def test_missing_pixel_data() -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / "dcm_mr_small.dcm")
    del dataset.PixelData
    assert reason_of(dicom_bytes(dataset)) == "no_pixel_data"
    assert reason_of(pydicom_file("rtplan.dcm")) == "no_pixel_data"


def test_too_large_is_refused_before_decoding() -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / "dcm_mr_small.dcm")
    assert reason_of(dicom_bytes(dataset), max_pixels=64 * 64 - 1) == "too_large"
    dataset.Rows = dataset.Columns = 60_000  # pixel data far too short: never decoded
    assert reason_of(dicom_bytes(dataset)) == "too_large"


@pytest.mark.parametrize("name", ["dcm_ct_small.dcm", "dcm_cr_chest.dcm", "dcm_us_obstetric.dcm"])
def test_truncated_dicom(name: str) -> None:
    data = (SAMPLE_IMAGES / name).read_bytes()
    for fraction in (0.05, 0.5, 0.95):
        assert reason_of(data[: int(len(data) * fraction)]) == "truncated"


def test_not_dicom() -> None:
    assert reason_of(b"just some text, no preamble" * 10) == "not_image"
    assert reason_of((SAMPLE_IMAGES / "cxr_01.jpg").read_bytes()) == "not_image"


def test_corrupt_compressed_pixel_data() -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / "dcm_us_obstetric.dcm")
    frame = bytearray(next(generate_frames(dataset.PixelData, number_of_frames=1)))
    frame[0:4] = struct.pack("<I", 3)  # the RLE header now announces 3 segments, not 1
    dataset.PixelData = encapsulate([bytes(frame)])
    with pytest.raises(UnreadableImageError) as caught:
        read_dicom(dicom_bytes(dataset))
    assert caught.value.reason == "corrupt"
    assert caught.value.message.startswith("corrupt DICOM data")


def test_transfer_syntax_without_decoder_is_unsupported() -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / "dcm_us_obstetric.dcm")
    dataset.file_meta.TransferSyntaxUID = MPEG2MPML  # video: no image decoder exists
    assert reason_of(dicom_bytes(dataset)) == "unsupported"


def test_metadata_values_are_plain_and_empty_ones_are_omitted() -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / "dcm_mr_small.dcm")
    dataset.PixelSpacing = ["0.5", "0.25"]
    dataset.SliceThickness = "2.5"
    dataset.NumberOfFrames = "1"
    dataset.SeriesDescription = ""
    dataset.StudyDescription = "  KNEE  "
    dataset.ImageLaterality = "L"
    dataset.BodyPartExamined = "KNEE"
    metadata = extract_metadata(dataset, descriptions=True)
    assert metadata["pixel_spacing"] == "0.5\\0.25"
    assert metadata["slice_thickness"] == 2.5 and type(metadata["slice_thickness"]) is float
    assert metadata["number_of_frames"] == 1 and type(metadata["number_of_frames"]) is int
    assert metadata["rows"] == 64 and type(metadata["rows"]) is int
    assert "series_description" not in metadata
    assert metadata["study_description"] == "KNEE"
    assert metadata["laterality"] == "L"
    assert metadata["body_part"] == "KNEE"
    assert metadata["transfer_syntax"] == "Explicit VR Little Endian"
    assert "study_description" not in extract_metadata(dataset)


def test_burned_in_annotation_comes_from_the_tag_or_the_modality() -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / "dcm_ct_small.dcm")
    assert extract_metadata(dataset)["burned_in_annotation"] == "no"
    dataset.Modality = "US"
    assert extract_metadata(dataset)["burned_in_annotation"] == "unknown"
    dataset.BurnedInAnnotation = "YES"
    assert extract_metadata(dataset)["burned_in_annotation"] == "yes"
    dataset.BurnedInAnnotation = "NO"
    assert extract_metadata(dataset)["burned_in_annotation"] == "no"


def test_private_transfer_syntax_is_not_stored() -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / "dcm_mr_small.dcm")
    dataset.file_meta.TransferSyntaxUID = UID("1.2.3.4.5.6.7.8.9")
    assert "transfer_syntax" not in extract_metadata(dataset)


def phi_datasets() -> list[Dataset]:
    """Real files that carry patient and site details, plus copies with planted ones."""
    datasets = [pydicom.dcmread(path) for path in SAMPLE_DICOMS]
    for name in ["MR_small.dcm", "CT_small.dcm", "US1_J2KR.dcm", "SC_rgb_jpeg_dcmtk.dcm"]:
        datasets.append(pydicom.dcmread(pydicom_file(name)))
    planted = []
    for source in (SAMPLE_IMAGES / "dcm_mr_small.dcm", SAMPLE_IMAGES / "dcm_us_obstetric.dcm"):
        dataset = pydicom.dcmread(source)
        dataset.PatientName = "Doe^Jane"
        dataset.PatientID = "SECRET123"
        dataset.PatientBirthDate = "19700101"
        dataset.PatientAddress = "12 Hidden Lane, Springfield"
        dataset.OtherPatientIDs = "OTHER-ID-777"
        dataset.AccessionNumber = "ACC998877"
        dataset.InstitutionName = "St Elsewhere Hospital"
        dataset.InstitutionAddress = "1 Hospital Road"
        dataset.ReferringPhysicianName = "House^Gregory"
        dataset.StudyID = "STUDY-4242"
        dataset.StudyDate = "20240229"
        planted.append(read_back(dataset))
    return datasets + planted


def read_back(dataset: Dataset) -> Dataset:
    return pydicom.dcmread(io.BytesIO(dicom_bytes(dataset)))


def test_no_identifying_value_reaches_the_metadata() -> None:
    checked = 0
    for dataset in phi_datasets():
        secrets = {
            str(dataset.get(keyword)).strip()
            for keyword in PHI_KEYWORDS
            if dataset.get(keyword) not in (None, "")
        }
        secrets = {secret for secret in secrets if len(secret) >= 4}
        metadata = read_dicom(dicom_bytes(dataset))[1]
        assert set(metadata) <= STORED_FIELDS
        rendered = [str(value) for value in metadata.values()] + list(metadata)
        for secret in secrets:
            assert not any(secret in text for text in rendered), secret
            checked += 1
    assert checked >= 60  # the planted values were all looked for


@pytest.mark.parametrize("vr", [b"\x44\xc1", b"ZZ"])
def test_an_element_with_an_unknown_vr_is_an_unreadable_image(vr: bytes) -> None:
    """Found by the decoder fuzzer: pydicom raised NotImplementedError past the typed errors."""
    data = (SAMPLE_IMAGES / "dcm_mr_small.dcm").read_bytes()
    birth_date = b"\x10\x00\x30\x00DA"  # (0010,0030), explicit VR
    at = data.index(birth_date)
    broken = data[: at + 4] + vr + data[at + 6 :]
    with pytest.raises(UnreadableImageError):
        read_dicom(broken)
