"""Reading an export back, and what it must hold, computed from the index folder itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from indexer.records import ImageRecord
from indexer.storage.folder import IndexFolder

#: the metadata fields of the generated index that hold values of several kinds
MIXED_FIELDS = {"mixed"}


def stored(index_dir: Path) -> tuple[dict[int, ImageRecord], np.ndarray]:
    """Every record of the index by id, and the vector file (row ``id - 1`` for image ``id``)."""
    folder = IndexFolder(index_dir)
    info = folder.read_info()
    with folder.open_store() as store:
        records = store.get_many(store.ids().tolist())
    return records, np.array(folder.vector_file(info.dim).memmap())


def read_back(out: Path, format_name: str) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The rows of an export (without their vectors) and its vectors, as written."""
    if format_name == "clip-retrieval":
        parts = sorted((out / "img_emb").glob("img_emb_*.npy"))
        metadata = sorted((out / "metadata").glob("metadata_*.parquet"))
        assert [p.name[len("img_emb_") :] for p in parts] == [
            p.name[len("metadata_") :].replace(".parquet", ".npy") for p in metadata
        ]
        rows = [row for path in metadata for row in pq.read_table(path).to_pylist()]
        vectors = [np.load(path) for path in parts]
        for part, path in zip(vectors, metadata, strict=True):
            assert len(part) == pq.read_metadata(path).num_rows
        return rows, np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float16)
    if format_name == "parquet":
        rows = pq.read_table(out).to_pylist()
    else:
        rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    embeddings = [row.pop("embedding") for row in rows]
    return rows, np.array(embeddings, dtype=np.float32)


def expected_row(record: ImageRecord, *, typed_columns: bool) -> dict[str, Any]:
    """What an export holds of ``record``: its id, path, caption and metadata fields, a field
    named as an export column renamed, and (in a typed column) mixed values as JSON text."""
    row: dict[str, Any] = {"image_path": record.path, "caption": record.caption, "id": record.id}
    for field, value in record.metadata().items():
        name = "metadata_image_path" if field == "image_path" else field
        if typed_columns and field in MIXED_FIELDS and not isinstance(value, str):
            value = json.dumps(value)
        row[name] = value
    return row


def without_nulls(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None}
