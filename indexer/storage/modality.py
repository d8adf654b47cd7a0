"""The modality vocabulary: a value that names a DICOM modality code is stored as the bare code.

A DICOM file's own ``Modality`` tag is a code (``MR``); a sidecar may describe the same modality
at more length (``MR (enhanced, multi-frame)``). Both are stored as ``MR``, so that a filter or a
facet value selects every image of the modality, and the words in brackets are kept in the
``modality_detail`` field. Values that start with no code (``fundus photograph``) are stored as
they are.
"""

from __future__ import annotations

import re

#: DICOM modality codes of images (DICOM PS3.3, C.7.3.1.1.1), upper case as DICOM writes them
DICOM_MODALITY_CODES = frozenset(
    {
        "CR", "CT", "DG", "DX", "ES", "GM", "IO", "IVOCT", "IVUS", "MG", "MR", "NM", "OCT",
        "OP", "OPT", "OT", "PT", "PX", "RF", "RG", "SM", "TG", "US", "XA", "XC",
    }
)  # fmt: skip
#: field that keeps the words a sidecar wrote after the code
DETAIL_FIELD = "modality_detail"

_CODE_THEN_DETAIL = re.compile(r"(?P<code>[A-Z]+)(?:\s*\((?P<detail>.*)\))?")


def split_modality(value: str) -> tuple[str, str | None]:
    """``"MR (enhanced, multi-frame)"`` -> ``("MR", "enhanced, multi-frame")``; ``"MR"`` ->
    ``("MR", None)``; a value that does not start with a DICOM code comes back unchanged."""
    text = value.strip()
    match = _CODE_THEN_DETAIL.fullmatch(text)
    if match is None or match["code"] not in DICOM_MODALITY_CODES:
        return text, None
    return match["code"], (match["detail"] or "").strip() or None
