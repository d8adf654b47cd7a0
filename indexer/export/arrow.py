"""Export blocks as Arrow tables, for the formats written as Parquet.

The metadata columns follow :class:`~indexer.export.columns.ExportColumns`; the embedding, where
a format has one, is a list of float32 per row (float16 is stored; widening it is exact, and
float32 lists are what Parquet readers, embedding-reader and autofaiss among them, take). The
schema carries the facts of :attr:`ExportTarget.about <indexer.export.base.ExportTarget.about>`
as JSON under the key ``medsearch``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .base import ExportBlock, ExportTarget
from .columns import (
    BOOLEAN,
    CAPTION,
    EMBEDDING,
    ID,
    IMAGE_PATH,
    INTEGER,
    OWN_COLUMNS,
    REAL,
    TEXT,
    ExportColumns,
)

_ARROW_TYPES = {INTEGER: pa.int64(), REAL: pa.float64(), BOOLEAN: pa.bool_(), TEXT: pa.string()}
_OWN_TYPES = {IMAGE_PATH: pa.string(), CAPTION: pa.string(), ID: pa.int64()}
#: key of the schema's key-value metadata holding the facts of the export
SCHEMA_KEY = b"medsearch"


def schema(target: ExportTarget, *, with_embedding: bool) -> pa.Schema:
    """The columns of ``target``, and its vectors' column when ``with_embedding``."""
    fields = [pa.field(name, type_) for name, type_ in _typed_names(target.columns)]
    if with_embedding:
        fields.append(pa.field(EMBEDDING, pa.list_(pa.float32())))
    about = json.dumps(target.about, sort_keys=True).encode()
    return pa.schema(fields, metadata={SCHEMA_KEY: about})


def parquet_writer(path: Path, table_schema: pa.Schema) -> pq.ParquetWriter:
    """A Parquet file of ``table_schema`` at ``path``, written a row group per table."""
    return pq.ParquetWriter(path, table_schema)


def table(block: ExportBlock, columns: ExportColumns, table_schema: pa.Schema) -> pa.Table:
    """``block`` as a table of ``table_schema`` (made by :func:`schema` for these columns)."""
    rows = [columns.row(record) for record in block.records]
    arrays: dict[str, Any] = {
        name: pa.array([row[name] for row in rows], type_) for name, type_ in _typed_names(columns)
    }
    if EMBEDDING in table_schema.names:
        arrays[EMBEDDING] = _float32_lists(block.vectors)
    return pa.Table.from_pydict(arrays, schema=table_schema)


def _typed_names(columns: ExportColumns) -> list[tuple[str, pa.DataType]]:
    own = [(name, _OWN_TYPES[name]) for name in OWN_COLUMNS]
    return own + [(c.name, _ARROW_TYPES[c.type]) for c in columns.fields.values()]


def _float32_lists(vectors: np.ndarray) -> pa.ListArray:
    rows, dim = vectors.shape
    values = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    offsets = pa.array(np.arange(0, (rows + 1) * dim, dim, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, values)
