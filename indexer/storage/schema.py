"""The tables of the metadata database (``meta.sqlite``) and the vocabulary of their columns.

One row per indexed image, one per failed file. Images indexed from a PACS also have a row of
DICOM identifiers (``dicom_identifiers``), kept apart from the image rows so that no UID appears in
what searches return.

Row ids are the ids of the vector index and the slots of the raw vector file, and are never
reused (``AUTOINCREMENT``), so a stale ANN index can never point at another image.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import JSON, Float, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..records import ImageRecord, MetadataValue
from .modality import DETAIL_FIELD, split_modality

#: metadata stored in columns; everything else lives in the JSON ``extra`` column
COLUMN_FIELDS = ("modality", "format")
#: filterable, but too many distinct values to be facets
SIZE_FIELDS = ("width", "height")
#: columns measured from the file itself, which no sidecar field may override
MEASURED_FIELDS = frozenset({"id", "path", "sha256", "size", "mtime", "width", "height", "format"})
#: sidecar fields stored under another name, their own being a measured column's
RENAMED_SIDECAR_FIELDS = {"id": "sidecar_id"}


class Base(DeclarativeBase):
    pass


class ImageRow(Base):
    __tablename__ = "images"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String, unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    mtime: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16), index=True)
    modality: Mapped[str | None] = mapped_column(String, index=True)
    caption: Mapped[str | None] = mapped_column(String)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    indexed_at: Mapped[float] = mapped_column(Float)

    def record(self) -> ImageRecord:
        return ImageRecord(
            id=self.id,
            path=self.path,
            sha256=self.sha256,
            size=self.size,
            mtime=self.mtime,
            width=self.width,
            height=self.height,
            format=self.format,
            modality=self.modality,
            caption=self.caption,
            extra=dict(self.extra or {}),
        )


class FailureRow(Base):
    __tablename__ = "failures"

    path: Mapped[str] = mapped_column(String, primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    mtime: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String)
    failed_at: Mapped[float] = mapped_column(Float)


class FieldKindRow(Base):
    """How many images hold an extra field with one JSON type (:mod:`.field_kinds`)."""

    __tablename__ = "field_kinds"

    field: Mapped[str] = mapped_column(String, primary_key=True)
    #: the type SQLite's json_each reports: text, integer, real, true, false, null, ...
    sql_type: Mapped[str] = mapped_column(String, primary_key=True)
    images: Mapped[int] = mapped_column(Integer)


class IdentifierRow(Base):
    """Study/Series/SOP Instance UIDs of an image indexed from a PACS (to fetch it again)."""

    __tablename__ = "dicom_identifiers"

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    study_uid: Mapped[str] = mapped_column(String(64))
    series_uid: Mapped[str] = mapped_column(String(64))
    sop_uid: Mapped[str] = mapped_column(String(64))


class FileState(NamedTuple):
    """What the store knows of one indexed path, to decide whether to embed it again."""

    id: int
    size: int
    mtime: float
    sha256: str


class FailureState(NamedTuple):
    """What the store knows of one path that failed, to decide whether to try it again."""

    size: int
    mtime: float
    reason: str


class DescriptiveFields(NamedTuple):
    """The fields of an image row that describe it rather than measure it."""

    caption: str | None
    modality: str | None
    #: every other field, stored in the JSON ``extra`` column
    extra: dict[str, MetadataValue]

    @classmethod
    def of(
        cls, caption: MetadataValue, modality: MetadataValue, extra: Mapping[str, MetadataValue]
    ) -> DescriptiveFields:
        """The fields, a modality that names a DICOM code stored as the bare code and its words in
        brackets in ``modality_detail`` (see :mod:`indexer.storage.modality`)."""
        kept = dict(extra)
        if modality is None:
            return cls(_text_or_none(caption), None, kept)
        code, detail = split_modality(str(modality))
        if detail is not None:
            kept[DETAIL_FIELD] = detail
        return cls(_text_or_none(caption), code or None, kept)

    @classmethod
    def read_from_file(cls, metadata: Mapping[str, MetadataValue]) -> DescriptiveFields:
        """The fields read from an image file (its DICOM tags): the modality goes to its column,
        the rest into ``extra``."""
        extra = dict(metadata)
        return cls.of(None, extra.pop("modality", None), extra)

    def with_sidecar(self, sidecar: Mapping[str, MetadataValue]) -> DescriptiveFields:
        """These fields with a sidecar's over them: its caption and modality go to their
        columns, the rest into ``extra``; empty values and measured columns are left out, but a
        sidecar's ``id`` is kept as ``sidecar_id`` (:data:`RENAMED_SIDECAR_FIELDS`)."""
        renamed = ((RENAMED_SIDECAR_FIELDS.get(k, k), v) for k, v in sidecar.items())
        fields: dict[str, MetadataValue] = {
            k: v for k, v in renamed if k not in MEASURED_FIELDS and v is not None
        }
        caption = fields.pop("caption", self.caption)
        modality = fields.pop("modality", self.modality)
        return DescriptiveFields.of(caption, modality, {**self.extra, **fields})


def _text_or_none(value: MetadataValue) -> str | None:
    return None if value is None else str(value)
