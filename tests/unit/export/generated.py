"""A generated index folder: thousands of rows written through the storage layer (no model
needed), with fields of every value type, fields mixing types, and gaps in the ids as after
removals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from indexer.records import EncoderRecord
from indexer.storage.folder import IndexFolder, new_info

GENERATED_ROWS = 3000
GENERATED_DIM = 64


def generated_row(image_id: int) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "cohort": f"c{image_id % 5}",
        "dose": image_id % 4 if image_id % 3 else image_id / 8,  # integers and reals
        "contrast": image_id % 2 == 0,  # booleans
        "mixed": str(image_id) if image_id % 2 else image_id,  # text and integers
    }
    if image_id % 10 == 0:
        extra["image_path"] = f"sidecar/{image_id}"  # a field named as an export column
    return {
        "id": image_id,
        "path": f"gen/{image_id:05d}.png",
        "sha256": f"{image_id:064x}",
        "size": 1000 + image_id,
        "mtime": 1_700_000_000.0 + image_id,
        "width": 64,
        "height": 32 if image_id % 2 else 64,
        "format": "png",
        "modality": ("CT", "MR", None)[image_id % 3],
        "caption": f"image {image_id}" if image_id % 4 else None,
        "extra": extra,
        "indexed_at": 0.0,
    }


def write_generated_index(path: Path, ids: list[int], dim: int, seed: int = 0) -> Path:
    """An index folder holding ``ids`` with :func:`generated_row` metadata and seeded unit
    vectors (its ANN index is not built: export reads the database and the vector file)."""
    folder = IndexFolder(path)
    encoder = EncoderRecord(
        name="generated", model="generated", fingerprint="gen", dim=dim, random_weights=True
    )
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((len(ids), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with folder.writer_lock():
        folder.write_info(new_info(encoder, path / "corpus", "flat"))
        with folder.open_store(create=True) as store, store.writer() as writer:
            folder.vector_file(dim).write(ids, vectors)
            writer.insert_rows([generated_row(i) for i in ids])
    return path
