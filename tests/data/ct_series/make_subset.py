"""How this folder was cut from neurolabusc/dcm_qa_ct (commit d03e30e, BSD-2-Clause).

Four CT series from three studies, every slice kept, each 512x512 slice reduced to 64x64 by
averaging 8x8 blocks (PixelSpacing scaled to match) and stored uncompressed without private tags;
every other element, UIDs and positions included, is as the scanner wrote it:

    python tests/data/ct_series/make_subset.py CHECKOUT_OF_dcm_qa_ct tests/data/ct_series
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pydicom

SERIES = {
    "In/Philips/S21570/S2010": "philips_s21570/s2010",
    "In/Philips/S21570/S2020": "philips_s21570/s2020",
    "In/Philips/S21610/S2010": "philips_s21610/s2010",
    "In/GE": "ge",
}
FACTOR = 8


def cut(source: Path, target: Path) -> None:
    dataset = pydicom.dcmread(source)
    pixels = dataset.pixel_array
    rows, columns = pixels.shape
    blocks = pixels.reshape(rows // FACTOR, FACTOR, columns // FACTOR, FACTOR)
    reduced = np.rint(blocks.astype(np.float64).mean(axis=(1, 3))).astype(pixels.dtype)
    dataset.remove_private_tags()
    dataset.Rows, dataset.Columns = reduced.shape
    if "PixelSpacing" in dataset:
        dataset.PixelSpacing = [float(v) * FACTOR for v in dataset.PixelSpacing]
    dataset.PixelData = reduced.tobytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(target, enforce_file_format=True)


def main(checkout: Path, out: Path) -> None:
    for folder, name in SERIES.items():
        for source in sorted((checkout / folder).iterdir()):
            if source.name != "DIRFILE":
                cut(source, out / name / (source.stem + ".dcm"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
