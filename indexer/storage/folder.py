"""The index folder on disk and how a new version of it is published.

``meta.sqlite`` (metadata, the source of truth for which images are indexed), ``vectors.f16``
(raw embeddings by id), ``index.faiss`` (the ANN index, derived from the two, with
``index-recent.faiss`` where there is one: its newest vectors) and ``index_info.json``
(encoder, dim, index type, count, versions, and a generation number that grows with every
publication). Files are written aside and moved into place atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path

from ..errors import EncoderMismatchError, IndexBusyError, IndexCorruptError, IndexNotFoundError
from ..versions import library_versions, medsearch_version
from .atomic import reporting_disk_full, write_atomic
from .info import INFO_FILE, EncoderRecord, IndexInfo, utc_timestamp
from .metadata_db import Store
from .vectors import VectorFile

FAISS_FILE = "index.faiss"
#: the ANN index's vectors added since ``index.faiss`` was written (:mod:`indexer.ann.base`)
RECENT_FILE = "index-recent.faiss"
DB_FILE = "meta.sqlite"
VECTORS_FILE = "vectors.f16"
LOCK_FILE = ".write.lock"
#: the folder of the group vectors' files (:mod:`indexer.storage.group_files`)
GROUPS_DIR = "groups"
#: the scores unrelated queries get (:mod:`indexer.storage.null_scores`)
NULL_SCORES_FILE = "null_scores.json"


class IndexFolder:
    """Paths and atomic writes of one index folder."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.info_path = self.path / INFO_FILE
        self.faiss_path = self.path / FAISS_FILE
        self.recent_path = self.path / RECENT_FILE
        self.db_path = self.path / DB_FILE
        self.vectors_path = self.path / VECTORS_FILE

    def exists(self) -> bool:
        return self.info_path.is_file()

    def read_info(self) -> IndexInfo:
        if not self.path.is_dir():
            raise IndexNotFoundError(f"index folder {self.path} does not exist")
        if not self.info_path.is_file():
            raise IndexNotFoundError(
                f"{self.path} holds no index ({INFO_FILE} missing); build one with "
                f"`medsearch index CORPUS --index {self.path}`"
            )
        try:
            data = json.loads(self.info_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"{self.info_path} is not valid JSON: {exc}") from exc
        return IndexInfo.from_json(data, str(self.info_path))

    def write_info(self, info: IndexInfo) -> None:
        text = json.dumps(info.to_json(), indent=2, sort_keys=True) + "\n"
        with reporting_disk_full(self.info_path.name):
            write_atomic(self.info_path, text.encode(), durable=True)

    def open_store(self, *, create: bool = False) -> Store:
        if not create and not self.db_path.is_file():
            raise IndexCorruptError(f"{self.path} has {INFO_FILE} but no {DB_FILE}")
        return Store(self.db_path, create=create)

    def vector_file(self, dim: int) -> VectorFile:
        return VectorFile(self.vectors_path, dim)

    def remove_stale_temporaries(self) -> None:
        """Delete files a killed writer left half-written beside their targets.

        Call it holding :meth:`writer_lock`: no other process is writing them then.
        """
        leftovers = [*self.path.glob(".*.tmp"), *self.path.glob(f"{GROUPS_DIR}/.*.tmp")]
        for leftover in leftovers:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the folder's write lock; refuse at once when another writer holds it."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / LOCK_FILE, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexBusyError(
                    f"another process is writing the index in {self.path}"
                ) from exc
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def require_same_encoder(info: IndexInfo, fingerprint: str, model_ref: str, where: Path) -> None:
    """Refuse an encoder other than the one the index was built with."""
    recorded = info.encoder
    if recorded.fingerprint != fingerprint:
        raise EncoderMismatchError(
            f"the index in {where} was built with {recorded.name} "
            f"({recorded.model}, fingerprint {recorded.fingerprint}); the model "
            f"given ({model_ref}, fingerprint {fingerprint}) is another one. Vectors of two "
            "models cannot share an index: use a new --index folder, or rebuild this one."
        )


def new_info(encoder: EncoderRecord, corpus_root: Path | str, index_type: str) -> IndexInfo:
    """The info of a new, empty index."""
    now = utc_timestamp()
    return IndexInfo(
        encoder=encoder,
        dim=encoder.dim,
        generation=0,
        index_type_requested=index_type,
        corpus_root=str(corpus_root),
        created_at=now,
        updated_at=now,
        versions=library_versions(),
        written_by=medsearch_version(),
    )
