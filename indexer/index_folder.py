"""The index folder on disk and how a new version of it is published.

``meta.sqlite`` (metadata, the source of truth for which images are indexed), ``vectors.f16``
(raw embeddings by id), ``index.faiss`` (the ANN index, derived from the two) and
``index_info.json`` (encoder, dim, index type, count, versions, and a generation number that
grows with every publication). Files are written aside and moved into place atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import platform
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from .atomic import write_atomic
from .errors import EncoderMismatchError, IndexBusyError, IndexCorruptError, IndexNotFoundError
from .store import Store
from .vector_file import VectorFile

INFO_FILE = "index_info.json"
FAISS_FILE = "index.faiss"
DB_FILE = "meta.sqlite"
VECTORS_FILE = "vectors.f16"
LOCK_FILE = ".write.lock"
FORMAT_VERSION = 1


class IndexFolder:
    """Paths and atomic writes of one index folder."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.info_path = self.path / INFO_FILE
        self.faiss_path = self.path / FAISS_FILE
        self.db_path = self.path / DB_FILE
        self.vectors_path = self.path / VECTORS_FILE

    def exists(self) -> bool:
        return self.info_path.is_file()

    def read_info(self) -> dict[str, Any]:
        if not self.path.is_dir():
            raise IndexNotFoundError(f"index folder {self.path} does not exist")
        if not self.info_path.is_file():
            raise IndexNotFoundError(
                f"{self.path} holds no index ({INFO_FILE} missing); build one with "
                f"`medsearch index CORPUS --index {self.path}`"
            )
        try:
            info: dict[str, Any] = json.loads(self.info_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"{self.info_path} is not valid JSON: {exc}") from exc
        for key in ("encoder", "dim", "generation"):
            if key not in info:
                raise IndexCorruptError(f"{self.info_path} lacks {key!r}")
        return info

    def write_info(self, info: dict[str, Any]) -> None:
        text = json.dumps(info, indent=2, sort_keys=True) + "\n"
        write_atomic(self.info_path, text.encode(), durable=True)

    def open_store(self, *, create: bool = False) -> Store:
        if not create and not self.db_path.is_file():
            raise IndexCorruptError(f"{self.path} has {INFO_FILE} but no {DB_FILE}")
        return Store(self.db_path, create=create)

    def vector_file(self, dim: int) -> VectorFile:
        return VectorFile(self.vectors_path, dim)

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


def require_same_encoder(
    info: dict[str, Any], fingerprint: str, model_ref: str, where: Path
) -> None:
    """Refuse an encoder other than the one the index was built with."""
    recorded = info["encoder"]
    if recorded.get("fingerprint") != fingerprint:
        raise EncoderMismatchError(
            f"the index in {where} was built with {recorded.get('name')} "
            f"({recorded.get('model')}, fingerprint {recorded.get('fingerprint')}); the model "
            f"given ({model_ref}, fingerprint {fingerprint}) is another one. Vectors of two "
            "models cannot share an index: use a new --index folder, or rebuild this one."
        )


def new_info(encoder: dict[str, Any], corpus_root: Path, index_type: str) -> dict[str, Any]:
    """The info of a new, empty index."""
    now = _now()
    return {
        "format_version": FORMAT_VERSION,
        "encoder": encoder,
        "dim": encoder["dim"],
        "metric": "inner_product",
        "index_type": "flat",
        "index_type_requested": index_type,
        "search_param": 0,
        "count": 0,
        "failed": 0,
        "corpus_root": str(corpus_root),
        "generation": 0,
        "created_at": now,
        "updated_at": now,
        "versions": library_versions(),
    }


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in (
        "medsearch",
        "faiss-cpu",
        "torch",
        "open_clip_torch",
        "transformers",
        "sqlalchemy",
        "numpy",
        "pillow",
        "pydicom",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return versions


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
