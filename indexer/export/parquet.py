"""One Parquet file: the metadata columns and an ``embedding`` column (a float32 list per row).

Written a row group per block, so the file is never whole in memory. embedding-reader and
autofaiss read it as their ``parquet`` format (``embedding_column="embedding"``), pandas, Polars,
DuckDB and Spark as any Parquet file.
"""

from __future__ import annotations

from .base import ExportBlock, ExportFormat, ExportTarget


class ParquetExportWriter:
    """Appends each block to one Parquet file as a row group."""

    def __init__(self, target: ExportTarget) -> None:
        from . import arrow  # pyarrow loads when an export starts, not with the command line

        self._arrow = arrow
        self.target = target
        self._schema = arrow.schema(target, with_embedding=True)
        self._file = arrow.parquet_writer(target.path, self._schema)

    def __enter__(self) -> ParquetExportWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()

    def write(self, block: ExportBlock) -> None:
        self._file.write_table(self._arrow.table(block, self.target.columns, self._schema))


FORMAT = ExportFormat(
    name="parquet",
    description="one Parquet file: the metadata columns and an embedding column (float32 lists)",
    writes_folder=False,
    open=ParquetExportWriter,
)
