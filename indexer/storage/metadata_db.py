"""SQLite metadata through SQLAlchemy 2: one row per indexed image, one per failed file.

Images indexed from a PACS also have a row of DICOM identifiers (``dicom_identifiers``), kept
apart from the image rows so that no UID appears in what searches return.

Row ids are the ids of the vector index and the slots of the raw vector file, and are never
reused (``AUTOINCREMENT``), so a stale ANN index can never point at another image.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Integer,
    String,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql import Executable, Select

from ..errors import InvalidRequestError, NotFoundError
from ..records import ImageRecord, MetadataValue
from ..search.query_cache import QueryCache
from ..sources.folder import InstanceUIDs

#: metadata stored in columns; everything else lives in the JSON ``extra`` column
COLUMN_FIELDS = ("modality", "format")
#: filterable, but too many distinct values to be facets
SIZE_FIELDS = ("width", "height")

IdArray = npt.NDArray[np.int64]
#: the rows of a DB-API cursor (``sqlite3.Cursor`` iterates over tuples)
_Rows = Iterable[tuple[Any, ...]]
#: ids the results of recent filters may hold in memory together (8 bytes each)
FILTER_CACHE_IDS = 20_000_000
#: extra fields given an index of their values (the first ones in name order), so that filters
#: and facets on them do not parse the JSON of every row
MAX_INDEXED_FIELDS = 32


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """The metadata database of one index folder."""

    def __init__(self, db_path: Path, *, create: bool = False) -> None:
        if not create and not db_path.is_file():
            raise NotFoundError(f"no metadata database at {db_path}")
        self.path = db_path
        self.engine: Engine = create_engine(f"sqlite:///{db_path}")
        event.listen(self.engine, "connect", _sqlite_pragmas)
        if create:
            Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._cache: dict[str, tuple[tuple[int, ...], Any]] = {}
        #: ids matching recent filters, by the change stamp they were read at and the filter
        self._filter_cache = QueryCache(FILTER_CACHE_IDS, weigh=len)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    # -- reading -------------------------------------------------------------------------------

    def count(self) -> int:
        with self._sessions() as s:
            return int(s.scalar(select(func.count(ImageRow.id))) or 0)

    def failure_count(self) -> int:
        with self._sessions() as s:
            return int(s.scalar(select(func.count()).select_from(FailureRow)) or 0)

    def failures(self) -> list[dict[str, Any]]:
        with self._sessions() as s:
            rows = s.scalars(select(FailureRow).order_by(FailureRow.path))
            return [{"path": r.path, "reason": r.reason, "message": r.message} for r in rows]

    def ids(self) -> IdArray:
        return self._id_array(select(ImageRow.id).order_by(ImageRow.id))

    def _id_array(self, query: Select[Any]) -> IdArray:
        """The single integer column ``query`` selects, as an array."""
        with self._raw_rows(query) as rows:
            return np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64)

    def file_states(self) -> dict[str, FileState]:
        query = select(ImageRow.path, ImageRow.id, ImageRow.size, ImageRow.mtime, ImageRow.sha256)
        with self._raw_rows(query) as rows:
            return {row[0]: FileState._make(row[1:]) for row in rows}

    @contextmanager
    def _raw_rows(self, query: Executable) -> Iterator[_Rows]:
        """The rows of ``query`` straight from the driver's cursor, as tuples (no row object
        per row: there can be millions)."""
        with self.engine.connect() as connection:
            yield cast(_Rows, connection.execute(query).cursor)

    def failure_states(self) -> dict[str, tuple[int, float]]:
        with self._sessions() as s:
            rows = s.execute(select(FailureRow.path, FailureRow.size, FailureRow.mtime))
            return {p: (sz, mt) for p, sz, mt in rows}

    def get(self, image_id: int) -> ImageRecord:
        with self._sessions() as s:
            row = s.get(ImageRow, image_id)
            if row is None:
                raise NotFoundError(f"no indexed image with id {image_id}")
            return row.record()

    def get_many(self, ids: Iterable[int]) -> dict[int, ImageRecord]:
        wanted = [int(i) for i in ids]
        found: dict[int, ImageRecord] = {}
        with self._sessions() as s:
            for chunk_start in range(0, len(wanted), 500):
                chunk = wanted[chunk_start : chunk_start + 500]
                for row in s.scalars(select(ImageRow).where(ImageRow.id.in_(chunk))):
                    found[row.id] = row.record()
        return found

    def identifiers(self, image_id: int) -> InstanceUIDs | None:
        """The DICOM identifiers of an image indexed from a PACS; None for files."""
        with self._sessions() as s:
            try:
                row = s.get(IdentifierRow, image_id)
            except OperationalError:  # an index made before the table existed
                return None
            return None if row is None else InstanceUIDs(row.study_uid, row.series_uid, row.sop_uid)

    # -- filters and facets -------------------------------------------------------------------

    def filterable_fields(self) -> list[str]:
        """Every field a filter may name; recomputed only after the database file changed."""
        fields: list[str] = self._cached("fields", self._scan_fields)
        return fields

    def _cached(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, reused until the database changes (scans of every row are slow)."""
        key = self._change_stamp()
        cached = self._cache.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        value = compute()
        self._cache[name] = (key, value)
        return value

    def _change_stamp(self) -> tuple[int, ...]:
        # committed writes touch the database file or its write-ahead log
        stamps = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                stat = path.stat()
                stamps += [stat.st_mtime_ns, stat.st_size]
            except FileNotFoundError:
                stamps += [0, 0]
        return tuple(stamps)

    def _scan_fields(self) -> list[str]:
        with self._sessions() as s:
            keys = s.execute(text("SELECT DISTINCT j.key FROM images, json_each(images.extra) j"))
            extra_keys = {k for (k,) in keys}
        return sorted(set(COLUMN_FIELDS) | set(SIZE_FIELDS) | extra_keys)

    def ids_matching(
        self, filters: Mapping[str, MetadataValue | Sequence[MetadataValue]]
    ) -> IdArray:
        """Ids of images whose fields equal the filter values (a list means any of them).

        The ids of the most recent filters are kept until the database changes: a search page
        runs many queries under one filter, and reading millions of ids costs more than a search.
        """
        # read at this state of the database: results of an older state are never returned,
        # and age out of the cache
        key = (self._change_stamp(), repr(sorted((f, repr(v)) for f, v in filters.items())))
        return self._filter_cache.get_or_compute(
            key, lambda: self._id_array(self._filter_query(filters).order_by(ImageRow.id))
        )

    def _filter_query(
        self, filters: Mapping[str, MetadataValue | Sequence[MetadataValue]]
    ) -> Select[Any]:
        fields = set(self.filterable_fields())
        query = select(ImageRow.id)
        for field, wanted in filters.items():
            if field not in fields:
                raise InvalidRequestError(
                    f"unknown filter field {field!r}; filterable: {', '.join(sorted(fields))}"
                )
            values = list(wanted) if isinstance(wanted, (list, tuple)) else [wanted]
            if not values or any(isinstance(v, (dict, list)) for v in values):
                raise InvalidRequestError(f"filter {field!r} needs a value or a list of values")
            column = self._field_expression(field)
            # each value is bound as its own type: a value of another type than the column's
            # (or than the list's first value) then matches nothing instead of failing to bind
            query = query.where(column.in_([literal(value) for value in values]))
        return query

    def facets(self, max_values: int = 50) -> dict[str, list[tuple[MetadataValue, int]]]:
        """For each filterable field, its most frequent values with their counts."""
        facets: dict[str, list[tuple[MetadataValue, int]]] = self._cached(
            f"facets-{max_values}", lambda: self._count_facets(max_values)
        )
        return facets

    def _count_facets(self, max_values: int) -> dict[str, list[tuple[MetadataValue, int]]]:
        result: dict[str, list[tuple[MetadataValue, int]]] = {}
        with self._sessions() as s:
            for field in self.filterable_fields():
                if field in SIZE_FIELDS:
                    continue
                column = self._field_expression(field)
                rows = s.execute(
                    select(column, func.count())
                    .where(column.is_not(None))
                    .group_by(column)
                    .order_by(func.count().desc(), column)
                    .limit(max_values)
                )
                result[field] = [(value, int(n)) for value, n in rows]
        return result

    @staticmethod
    def _field_expression(field: str) -> Any:
        if field in COLUMN_FIELDS or field in SIZE_FIELDS:
            return getattr(ImageRow, field)
        return func.json_extract(ImageRow.extra, literal_column(_json_path_literal(field)))

    def index_extra_fields(self) -> None:
        """Give each extra field (up to :data:`MAX_INDEXED_FIELDS`) an index of its values.

        Filters and facets on a field then read its index instead of the JSON of every row.
        Fields indexed before are left as they are.
        """
        extra = [f for f in self.filterable_fields() if f not in COLUMN_FIELDS + SIZE_FIELDS]
        with self.engine.begin() as connection:
            for field in extra[:MAX_INDEXED_FIELDS]:
                name = "ix_extra_" + hashlib.sha256(field.encode()).hexdigest()[:16]
                path = _json_path_literal(field)
                connection.execute(
                    text(
                        f"CREATE INDEX IF NOT EXISTS {name} ON images (json_extract(extra, {path}))"
                    )
                )

    # -- writing -------------------------------------------------------------------------------

    @staticmethod
    def add_images(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Insert image rows in ``session``; return their new ids (in order)."""
        now = time.time()
        objects = [ImageRow(indexed_at=now, **dict(r)) for r in rows]
        session.add_all(objects)
        session.flush()
        return [o.id for o in objects]

    def insert_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert complete image rows, ids and ``indexed_at`` included, in one transaction.

        One bulk statement, no ORM objects: for rows made in bulk elsewhere (the synthetic rows
        of a benchmark index), where building an object per row would cost more than the insert.
        """
        if rows:
            with self.session() as session:
                session.execute(insert(ImageRow), [dict(r) for r in rows])

    @staticmethod
    def add_identifiers(session: Session, pairs: Iterable[tuple[int, InstanceUIDs]]) -> None:
        """Record the DICOM identifiers of newly added PACS images."""
        session.add_all(
            IdentifierRow(image_id=i, study_uid=u[0], series_uid=u[1], sop_uid=u[2])
            for i, u in pairs
        )

    @staticmethod
    def delete_images(session: Session, ids: Iterable[int]) -> None:
        id_list = [int(i) for i in ids]
        for start in range(0, len(id_list), 500):
            session.execute(delete(ImageRow).where(ImageRow.id.in_(id_list[start : start + 500])))

    @staticmethod
    def touch_image(session: Session, image_id: int, size: int, mtime: float) -> None:
        row = session.get(ImageRow, image_id)
        if row is not None:
            row.size, row.mtime = size, mtime

    @staticmethod
    def record_failure(
        session: Session, path: str, size: int, mtime: float, reason: str, message: str
    ) -> None:
        session.merge(
            FailureRow(
                path=path,
                size=size,
                mtime=mtime,
                reason=reason,
                message=message,
                failed_at=time.time(),
            )
        )

    @staticmethod
    def clear_failures(session: Session, paths: Iterable[str]) -> None:
        path_list = list(paths)
        for start in range(0, len(path_list), 500):
            chunk = path_list[start : start + 500]
            session.execute(delete(FailureRow).where(FailureRow.path.in_(chunk)))

    def apply_sidecar(self, metadata: Mapping[str, Mapping[str, MetadataValue]]) -> int:
        """Set caption, modality and extra fields from a sidecar on already indexed rows."""
        changed = 0
        with self.session() as s:
            for row in s.scalars(select(ImageRow).where(ImageRow.path.in_(list(metadata)))):
                fields = split_sidecar_fields(metadata[row.path])
                caption = _text_or_none(fields.pop("caption", row.caption))
                modality = _text_or_none(fields.pop("modality", row.modality))
                extra = {**(row.extra or {}), **fields}
                if (caption, modality, extra) != (row.caption, row.modality, row.extra):
                    row.caption, row.modality, row.extra = caption, modality, extra
                    changed += 1
        return changed


def _json_path_literal(field: str) -> str:
    """The SQL string literal of the JSON path of an extra field.

    Written into the SQL rather than bound as a parameter: SQLite uses an index on an expression
    only where a query spells out the same expression.
    """
    path = f'$."{field}"'.replace("'", "''")
    return f"'{path}'"


def split_sidecar_fields(fields: Mapping[str, MetadataValue]) -> dict[str, MetadataValue]:
    """Sidecar fields with the image's own columns protected (format, size ... are measured)."""
    protected = {"id", "path", "sha256", "size", "mtime", "width", "height", "format"}
    return {k: v for k, v in fields.items() if k not in protected and v is not None}


def _text_or_none(value: MetadataValue) -> str | None:
    return None if value is None else str(value)
