"""JPEG 2000 DICOM frames decoded at a lower resolution level: same values, same embeddings."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, get_frame
from pydicom.pixels import pixel_array

from indexer.encoders import Encoder
from indexer.errors import UnreadableImageError
from indexer.imaging.decode import decode_image_bytes, load_image
from indexer.imaging.dicom import read_dicom
from indexer.imaging.jpeg2000 import reduced_jpeg2000_frame
from tests.support.helpers import SAMPLE_IMAGES
from tests.unit.imaging.test_dicom import pydicom_file

LARGE_J2K = ["dcm_cr_chest.dcm", "dcm_cr_tibia.dcm", "dcm_mr_shoulder.dcm"]


def _block_means(values: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """``values`` averaged over factor x factor blocks (edge blocks padded by repetition)."""
    rows, columns = shape[0] * factor, shape[1] * factor
    padded = np.pad(
        values.astype(float), [(0, rows - values.shape[0]), (0, columns - values.shape[1])], "edge"
    )
    return padded.reshape(shape[0], factor, shape[1], factor).mean(axis=(1, 3))


def _assert_is_reduced(reduced: np.ndarray, full: np.ndarray) -> None:
    """``reduced`` is ``full`` at 1/2 ** level of its size, on the same stored-value scale."""
    factor = -(-full.shape[0] // reduced.shape[0])
    assert factor in (2, 4, 8)
    assert reduced.shape == tuple(-(-side // factor) for side in full.shape)
    expected = _block_means(full, factor, reduced.shape)
    value_range = float(full.max()) - float(full.min())
    assert np.median(np.abs(reduced - expected)) <= 0.01 * value_range
    assert _correlation(reduced, expected) > 0.99


@pytest.mark.parametrize("name", LARGE_J2K)
def test_large_frames_decode_at_a_lower_level(name: str) -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / name)
    reduced = reduced_jpeg2000_frame(dataset, 0, 1, 448)
    assert reduced is not None and min(reduced.shape) >= 448
    _assert_is_reduced(reduced, pixel_array(dataset))


@pytest.mark.parametrize("name", LARGE_J2K)
def test_images_keep_their_size_and_embeddings(name: str, tiny_encoder: Encoder) -> None:
    path = SAMPLE_IMAGES / name
    dataset = pydicom.dcmread(path, stop_before_pixels=True)
    fast = load_image(path, draft_size=tiny_encoder.draft_size)
    full, _ = read_dicom(path)
    assert (fast.width, fast.height) == (dataset.Columns, dataset.Rows) == full.size
    assert max(fast.image.size) < max(full.size)
    embeddings = tiny_encoder.encode_images([fast.image, full])
    assert float(embeddings[0] @ embeddings[1]) >= 0.999


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_the_frame_asked_for_is_decoded() -> None:
    dataset = pydicom.dcmread(pydicom_file("emri_small_jpeg_2k_lossless.dcm"))  # 10 frames
    reduced = reduced_jpeg2000_frame(dataset, 5, 10, 32)
    assert reduced is not None and reduced.shape == (32, 32)
    asked, first = (_block_means(pixel_array(dataset, index=i), 2, (32, 32)) for i in (5, 0))
    # a small noisy MR: its wavelet approximation is near the 2 x 2 means, not equal to them
    assert _correlation(reduced, asked) > 0.9 > _correlation(reduced, first)


@pytest.mark.parametrize(
    "name, min_side",
    [
        ("MR_small_jp2klossless.dcm", 16),  # signed values
        ("JPEG2000.dcm", 16),  # signed values
        ("US1_J2KR.dcm", 16),  # colour
        ("CT_small.dcm", 16),  # not JPEG 2000
        ("MR2_J2KR.dcm", 1024),  # already at the size asked for
    ],
)
def test_other_frames_are_left_to_the_full_decode(name: str, min_side: int) -> None:
    dataset = pydicom.dcmread(pydicom_file(name))
    assert reduced_jpeg2000_frame(dataset, 0, 1, min_side) is None


def _with_codestream(path: Path, edit: bytes | None = None, at: int = 0, cut: int = 0) -> Dataset:
    dataset = pydicom.dcmread(path)
    codestream = bytearray(get_frame(dataset.PixelData, 0, number_of_frames=1))
    if edit is not None:
        codestream[at : at + len(edit)] = edit
    if cut:
        codestream = codestream[:cut]
    changed = copy.deepcopy(dataset)
    changed.PixelData = encapsulate([bytes(codestream) + b"\0" * (len(codestream) % 2)])
    return changed


def test_damaged_or_single_level_streams_are_left_to_the_full_decode() -> None:
    path = SAMPLE_IMAGES / "dcm_cr_tibia.dcm"
    dataset = pydicom.dcmread(path)
    assert reduced_jpeg2000_frame(dataset, 0, 1, 448) is not None
    assert reduced_jpeg2000_frame(_with_codestream(path, b"\0\0"), 0, 1, 448) is None  # no SOC
    cut = _with_codestream(path, cut=4000)
    assert reduced_jpeg2000_frame(cut, 0, 1, 448) is None
    header = get_frame(dataset.PixelData, 0, number_of_frames=1)
    cod = header.index(b"\xff\x52")
    single = _with_codestream(path, b"\0", at=cod + 9)  # COD: no wavelet levels
    assert reduced_jpeg2000_frame(single, 0, 1, 448) is None
    not_encapsulated = copy.deepcopy(dataset)
    not_encapsulated.PixelData = b"\0" * 64
    assert reduced_jpeg2000_frame(not_encapsulated, 0, 1, 448) is None


def test_a_cut_frame_keeps_the_full_decode_error() -> None:
    """With or without a size asked for, a cut frame gives the same classified error."""
    dataset = _with_codestream(SAMPLE_IMAGES / "dcm_cr_tibia.dcm", cut=4000)
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    reasons = []
    for draft_size in (None, 448):
        with pytest.raises(UnreadableImageError) as caught:
            decode_image_bytes(buffer.getvalue(), draft_size=draft_size)
        reasons.append((caught.value.reason, str(caught.value)))
    assert reasons[0] == reasons[1]


def test_malformed_values_leave_the_frame_to_the_full_decode() -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / "dcm_cr_tibia.dcm")
    with pytest.warns(UserWarning, match="cannot be assigned"):
        dataset.BitsAllocated = "sixteen"  # kept as it is, as pydicom keeps what it cannot read
    assert reduced_jpeg2000_frame(dataset, 0, 1, 448) is None
