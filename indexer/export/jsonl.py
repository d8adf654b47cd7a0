"""JSON Lines: one JSON object per image, its vector under ``embedding``.

Each line holds the export's own columns, the image's metadata fields with their own JSON types
(a field the image lacks is left out) and the embedding as a list of numbers: the stored float16
values, written exactly (read back as float16 or float32, they are the stored ones).
"""

from __future__ import annotations

import json
from typing import IO

from .base import ExportBlock, ExportFormat, ExportTarget
from .columns import EMBEDDING


class JsonLinesWriter:
    """Writes one line per image."""

    def __init__(self, target: ExportTarget) -> None:
        self.target = target
        self._file: IO[str] = open(target.path, "w", encoding="utf-8")  # closed by __exit__

    def __enter__(self) -> JsonLinesWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()

    def write(self, block: ExportBlock) -> None:
        # one line's numbers become Python floats at a time: a whole block of them would take
        # 32 bytes a number
        vectors = block.vectors.astype("<f4")
        lines = (
            json.dumps(
                {**self.target.columns.json_row(record), EMBEDDING: vector.tolist()},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            for record, vector in zip(block.records, vectors, strict=True)
        )
        self._file.writelines(line + "\n" for line in lines)


FORMAT = ExportFormat(
    name="jsonl",
    description="JSON Lines: one object per image with its fields and its embedding",
    writes_folder=False,
    open=JsonLinesWriter,
)
