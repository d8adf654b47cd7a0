"""Every common DICOM transfer syntax decodes, alone and through a real ``medsearch index``.

One real file per transfer syntax, from pydicom and pydicom-data. Where an uncompressed file
of the same image exists, the rendering must match it. ``tests/data/ct_small_htj2k.dcm`` holds
pydicom's ``CT_small.dcm`` with its pixels encoded as HTJ2K (lossless) by Grok's
``grk_compress -M 64``; the JPEG Lossless (Process 14) file is ``JPEG-LL.dcm``, whose Selection
Value 1 stream is also a valid Process 14 stream, labelled with that syntax's UID.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import UID

from indexer.imaging.decode import load_image
from indexer.imaging.dicom import read_dicom
from indexer.imaging.jpeg_scan import sequential_scans
from tests.support.helpers import REPO, run_cli, tiny_model_args

HTJ2K_FILE = REPO / "tests" / "data" / "ct_small_htj2k.dcm"

#: transfer syntax name -> (file, uncompressed reference or None, whether it is lossless)
CASES: dict[str, tuple[str, str | None, bool]] = {
    "Implicit VR Little Endian": ("MR_small_implicit.dcm", "MR_small.dcm", True),
    "Explicit VR Little Endian": ("MR_small.dcm", None, True),
    "Deflated Explicit VR Little Endian": ("image_dfl.dcm", None, True),
    "RLE Lossless": ("MR_small_RLE.dcm", "MR_small.dcm", True),
    "JPEG Baseline (Process 1)": ("SC_rgb_jpeg_dcmtk.dcm", "SC_rgb.dcm", False),
    "JPEG Extended (Process 2 and 4)": ("JPGExtended.dcm", None, False),
    "JPEG Lossless, Non-Hierarchical (Process 14)": ("JPEG-LL.dcm", None, True),
    "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])": (
        "JPGLosslessP14SV1_1s_1f_8b.dcm",
        None,
        True,
    ),
    "JPEG-LS Lossless Image Compression": ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm", True),
    "JPEG-LS Lossy (Near-Lossless) Image Compression": ("JPEGLSNearLossless_16.dcm", None, False),
    "JPEG 2000 Image Compression (Lossless Only)": (
        "MR_small_jp2klossless.dcm",
        "MR_small.dcm",
        True,
    ),
    "JPEG 2000 Image Compression": ("US1_J2KI.dcm", "US1_UNCR.dcm", False),
    "High-Throughput JPEG 2000 Image Compression (Lossless Only)": (
        str(HTJ2K_FILE),
        "CT_small.dcm",
        True,
    ),
}
JPEG_PROCESS_14 = UID("1.2.840.10008.1.2.4.57")


def pydicom_data(name: str) -> Path:
    if Path(name).is_absolute():
        return Path(name)
    found = get_testdata_file(name, download=False)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install pydicom-data)")
    return Path(str(found))


def case_file(syntax: str, folder: Path) -> Path:
    """The file of one case, written into ``folder`` (relabelled for JPEG Process 14)."""
    source = pydicom_data(CASES[syntax][0])
    target = folder / f"{len(list(folder.iterdir())):02d}_{source.name}"
    if syntax.endswith("(Process 14)"):
        dataset = pydicom.dcmread(source)
        dataset.file_meta.TransferSyntaxUID = JPEG_PROCESS_14
        dataset.save_as(target)
    else:
        shutil.copyfile(source, target)
    return target


def grey(path: Path) -> np.ndarray:
    return np.asarray(read_dicom(path)[0].convert("L"), dtype=np.float64)


@pytest.mark.parametrize("syntax", sorted(CASES))
def test_each_transfer_syntax_decodes_to_a_sane_image(syntax: str, tmp_path: Path) -> None:
    path = case_file(syntax, tmp_path)
    dataset = pydicom.dcmread(path, stop_before_pixels=True)
    assert dataset.file_meta.TransferSyntaxUID.name.startswith(syntax.split(" (")[0])
    decoded = load_image(path)
    assert decoded.format == "dicom"
    assert decoded.image.size == (dataset.Columns, dataset.Rows)
    assert decoded.metadata["transfer_syntax"] == dataset.file_meta.TransferSyntaxUID.name
    rendered = grey(path)
    assert rendered.std() > 5  # not constant
    reference_name, lossless = CASES[syntax][1], CASES[syntax][2]
    if reference_name is not None:
        reference = grey(pydicom_data(reference_name))
        assert reference.shape == rendered.shape
        difference = np.abs(reference - rendered)
        if lossless:
            assert difference.max() <= 1
        else:
            assert difference.mean() < 8
            assert np.corrcoef(reference.ravel(), rendered.ravel())[0, 1] > 0.95


@pytest.mark.slow
def test_a_folder_of_every_encoding_indexes_without_failure(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for syntax in sorted(CASES):
        case_file(syntax, corpus)
    model = tiny_model_args(tiny_model_dir)
    out = run_cli("index", corpus, "--index", tmp_path / "index", *model, "--json")
    report = json.loads(out)
    assert report["failed"] == [] and report["skipped"] == {}
    assert report["indexed"] == report["count"] == len(CASES)


def test_a_ge_jpeg_extended_frame_with_a_non_standard_scan_header_decodes() -> None:
    """``JPEG-lossy.dcm`` as a GE scanner wrote it (spectral selection 0..0 in a sequential
    scan, refused by libjpeg, decoded by DCMTK with a warning) renders exactly like
    ``JPGExtended.dcm``, the same image with the scan header corrected."""
    as_written = grey(pydicom_data("JPEG-lossy.dcm"))
    corrected = grey(pydicom_data("JPGExtended.dcm"))
    assert as_written.shape == corrected.shape == (1024, 256)
    assert as_written.std() > 5
    assert np.array_equal(as_written, corrected)


def test_scan_headers_are_only_rewritten_in_sequential_jpeg() -> None:
    dataset = pydicom.dcmread(pydicom_data("JPGExtended.dcm"))
    conforming = next(pydicom.encaps.generate_frames(dataset.PixelData, number_of_frames=1))
    assert sequential_scans(conforming) is None  # nothing to repair
    assert (
        sequential_scans(b"\xff\xd8\xff\xc2\x00\x02\xff\xda\x00\x08\x01\x01\x00\x01\x05\x00")
        is None
    )
    assert sequential_scans(b"not a jpeg") is None
