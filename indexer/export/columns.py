"""The columns of an export: what of each image leaves the index, named and typed once.

Each image leaves as a search result shows it, and no more: its id, its path relative to the
corpus (``image_path``, clip-retrieval's name), its caption, and its metadata fields (format,
modality, width, height and every other stored field, ``burned_in_annotation`` included). No
DICOM identifier (they live in another table, never read here), no checksum, no file time, no
pixel. A metadata field whose name is one of the export's own columns is renamed
``metadata_<name>``.

Columnar formats need one type per column. A field is written as integers, reals, booleans or
text when every stored value of it is of that kind (integers and reals together: reals); a field
holding values of several kinds is written as text, its non-text values as JSON text
(``13`` -> ``"13"``). JSON Lines keeps each value's own type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..records import ImageRecord, MetadataValue

ID, IMAGE_PATH, CAPTION, EMBEDDING = "id", "image_path", "caption", "embedding"
#: the export's own columns, first in every row (clip-retrieval's two come first in its tools)
OWN_COLUMNS = (IMAGE_PATH, CAPTION, ID)

INTEGER, REAL, BOOLEAN, TEXT = "integer", "real", "boolean", "text"
#: SQLite JSON value types -> the one column type that holds all of them
_COLUMN_TYPE_OF = (
    (frozenset({"integer"}), INTEGER),
    (frozenset({"integer", "real"}), REAL),
    (frozenset({"true", "false"}), BOOLEAN),
    (frozenset({"text"}), TEXT),
)


@dataclass(frozen=True)
class FieldColumn:
    """One metadata field's column: its name in the export and the type of its values."""

    name: str
    type: str
    #: values of several kinds, written as text (non-text values as JSON text)
    mixed: bool = False

    def cell(self, value: MetadataValue) -> MetadataValue:
        """``value`` as this column holds it."""
        if value is None:
            return None
        if self.mixed and not isinstance(value, str):
            return json.dumps(value)
        if self.type == REAL:
            return float(value)
        return value


@dataclass(frozen=True)
class ExportColumns:
    """The columns of one export: :data:`OWN_COLUMNS`, then one per metadata field."""

    #: metadata field -> its column, in field name order
    fields: Mapping[str, FieldColumn]

    @classmethod
    def of(cls, value_types: Mapping[str, frozenset[str]]) -> ExportColumns:
        """The columns of an index whose fields hold values of these SQLite JSON types
        (:meth:`indexer.storage.metadata_db.Store.field_value_types`)."""
        taken = {*OWN_COLUMNS, EMBEDDING}
        fields = {}
        for field in sorted(value_types):
            name = field
            while name in taken:
                name = f"metadata_{name}"
            taken.add(name)
            fields[field] = _column(name, value_types[field] - {"null"})
        return cls(fields)

    @property
    def names(self) -> list[str]:
        """Every column name but the embedding's, in order."""
        return [*OWN_COLUMNS, *(column.name for column in self.fields.values())]

    def row(self, record: ImageRecord) -> dict[str, MetadataValue]:
        """The record as one row of typed columns (:meth:`FieldColumn.cell`)."""
        metadata = record.metadata()
        row: dict[str, MetadataValue] = _own(record)
        for field, column in self.fields.items():
            row[column.name] = column.cell(metadata.get(field))
        return row

    def json_row(self, record: ImageRecord) -> dict[str, Any]:
        """The record as one JSON object: the same names, every value of its own type, and the
        fields the image does not have left out."""
        row: dict[str, Any] = _own(record)
        for field, value in record.metadata().items():
            if field in self.fields:
                row[self.fields[field].name] = value
        return row


def _own(record: ImageRecord) -> dict[str, MetadataValue]:
    return {IMAGE_PATH: record.path, CAPTION: record.caption, ID: record.id}


def _column(name: str, types: frozenset[str]) -> FieldColumn:
    if not types:  # only empty values: text, all of it null
        return FieldColumn(name, TEXT)
    for holds, column_type in _COLUMN_TYPE_OF:
        if types <= holds:
            return FieldColumn(name, column_type)
    return FieldColumn(name, TEXT, mixed=True)
