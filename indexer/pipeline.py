"""The indexing run: scan a corpus, decode and embed what is new, write rows and vectors, publish.

Decoding, hashing and preprocessing run in worker threads while the model embeds the previous
batch. Each batch is written in one SQLite transaction, its vectors fsynced just before the
commit, so a kill at any moment leaves every committed image with its vector; the ANN index is
derived from both and brought in line at the end of every run (see :mod:`indexer.publish`).
A write that finds the disk full stops the run with :class:`~indexer.errors.DiskFullError`; the
batch it was writing is rolled back and the published version stays as it was.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .atomic import reporting_disk_full
from .burned_in import settle_burned_in
from .corpus import CorpusFile, CorpusSource, FolderSource, load_metadata
from .encoders import Encoder, load_encoder
from .errors import InvalidRequestError, UnreadableImageError
from .fault_points import fault_point
from .imaging import IMAGE_SUFFIXES, decode_image_bytes, sniff_format
from .index_folder import IndexFolder, new_info, require_same_encoder
from .index_info import IndexInfo
from .publish import publish
from .records import MetadataValue
from .settings import Settings
from .store import FileState, Store, split_sidecar_fields
from .vector_file import VectorFile

#: publish the ANN index at least this often during long runs (new images)
CHECKPOINT_EVERY = 20_000

ProgressCallback = Callable[[int, int], None]


@dataclass
class IndexReport:
    """What one run did."""

    scanned: int = 0
    indexed: int = 0
    unchanged: int = 0
    #: files whose bytes equal an already embedded file (vector copied, not recomputed)
    duplicates: int = 0
    #: files that changed on disk and were embedded again
    updated: int = 0
    pruned: int = 0
    #: indexed files no longer on disk (kept; use --prune to remove them)
    missing: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: list[dict[str, str]] = field(default_factory=list)
    count: int = 0
    seconds: float = 0.0
    embedded: int = 0

    @property
    def images_per_s(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "indexed": self.indexed,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "unchanged": self.unchanged,
            "pruned": self.pruned,
            "missing": self.missing,
            "skipped": dict(self.skipped),
            "failed": self.failed,
            "count": self.count,
            "seconds": round(self.seconds, 3),
            "images_per_s": round(self.images_per_s, 2),
        }


@dataclass
class _Prepared:
    file: CorpusFile
    sha256: str
    format: str
    width: int
    height: int
    metadata: dict[str, MetadataValue]
    pixels: np.ndarray | None


@dataclass
class _Failed:
    file: CorpusFile
    reason: str
    message: str


@dataclass
class _Skipped:
    file: CorpusFile
    reason: str


_Outcome = _Prepared | _Failed | _Skipped


def index_corpus(
    settings: Settings,
    corpus: Path | CorpusSource,
    *,
    metadata_file: Path | None = None,
    model: str | None = None,
    prune: bool = False,
    encoder: Encoder | None = None,
    progress: ProgressCallback | None = None,
) -> IndexReport:
    """Bring the index in ``settings.index_dir`` up to date with the images under ``corpus``
    (a folder, or a source such as :class:`indexer.dicomweb.DicomWebSource`)."""
    source = FolderSource(corpus) if isinstance(corpus, Path) else corpus
    root = source.root
    sidecar = load_metadata(metadata_file) if metadata_file else {}
    folder = IndexFolder(settings.index_dir)
    # the other files name themselves when they find the disk full; the rest is SQLite's
    with folder.writer_lock(), reporting_disk_full(folder.db_path.name):
        folder.remove_stale_temporaries()
        info = folder.read_info() if folder.exists() else None
        encoder = encoder or _load_encoder(settings, info, model)
        started = time.perf_counter()  # the rate is the pipeline's, not the model load's
        if info is None:
            info = new_info(encoder.describe(), root, settings.index_type)
            store = folder.open_store(create=True)
            folder.write_info(info)
        else:
            require_same_encoder(info, encoder.fingerprint, encoder.model_ref, folder.path)
            _check_same_corpus(info, root, folder.path)
            store = folder.open_store(create=True)
        state: dict[str, IndexInfo] = {"info": info}

        def checkpoint() -> None:
            state["info"] = publish(
                folder, store, state["info"], settings.index_type, settings.index_memory
            )

        try:
            vectors = folder.vector_file(encoder.dim)
            run = _Run(settings, encoder, store, vectors, sidecar, progress, checkpoint)
            report = run.execute(source, prune)
            store.apply_sidecar(sidecar)
            checkpoint()
            report.count = state["info"].count
        finally:
            store.close()
    report.seconds = time.perf_counter() - started
    return report


def encoder_for(settings: Settings, model: str | None = None) -> Encoder:
    """The encoder a run would load (``model``, else the index's own, else the setting), for
    callers that run many times in a row (``--watch``)."""
    folder = IndexFolder(settings.index_dir)
    return _load_encoder(settings, folder.read_info() if folder.exists() else None, model)


def _load_encoder(settings: Settings, info: IndexInfo | None, model: str | None) -> Encoder:
    ref = model or (info.encoder.model if info else settings.model)
    return load_encoder(
        ref,
        device=settings.device,
        precision=settings.precision,
        compile_images=settings.compile,
        trust_remote_code=settings.trust_remote_code,
    )


def _check_same_corpus(info: IndexInfo, root: str, where: Path) -> None:
    if info.corpus_root and info.corpus_root != root:
        raise InvalidRequestError(
            f"the index in {where} holds images of {info.corpus_root}, not of {root}; "
            "paths are stored relative to the corpus folder, so use a new --index folder"
        )


class _Run:
    """State of one indexing run."""

    def __init__(
        self,
        settings: Settings,
        encoder: Encoder,
        store: Store,
        vectors: VectorFile,
        sidecar: Mapping[str, Mapping[str, MetadataValue]],
        progress: ProgressCallback | None,
        checkpoint: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.checkpoint = checkpoint
        self.encoder = encoder
        self.store = store
        self.vectors = vectors
        self.sidecar = sidecar
        self.progress = progress
        self.report = IndexReport()
        self.states: dict[str, FileState] = store.file_states()
        # one id per distinct content, to copy vectors instead of embedding twice
        self.id_by_sha: dict[str, int] = {s.sha256: s.id for s in self.states.values()}
        self.draft_size = encoder.draft_size

    def execute(self, source: CorpusSource, prune: bool) -> IndexReport:
        report = self.report
        self.source = source
        files = source.scan()
        report.scanned = len(files)
        failures = self.store.failure_states()
        todo: list[CorpusFile] = []
        for f in files:
            state = self.states.get(f.relpath)
            if state and state.size == f.size and state.mtime == f.mtime:
                report.unchanged += 1
            elif failures.get(f.relpath) == (f.size, f.mtime):
                report.failed.append({"path": f.relpath, "reason": "unchanged_since_failure"})
            else:
                todo.append(f)
        self._process(todo)
        on_disk = {f.relpath for f in files}
        gone = [s.id for p, s in self.states.items() if p not in on_disk]
        if prune and gone:
            with self.store.session() as session:
                Store.delete_images(session, gone)
                Store.clear_failures(session, set(failures) - on_disk)
            report.pruned = len(gone)
        else:
            report.missing = len(gone)
        return report

    def _process(self, todo: list[CorpusFile]) -> None:
        batch: list[_Prepared] = []
        other: list[_Failed | _Skipped] = []
        done = 0
        since_publish = 0
        for outcome in self._prepare_all(todo):
            done += 1
            if isinstance(outcome, _Prepared):
                batch.append(outcome)
            else:
                other.append(outcome)
            if len(batch) >= self.settings.batch_size or len(other) >= 256:
                since_publish += self._flush(batch, other)
                batch, other = [], []
                if since_publish >= CHECKPOINT_EVERY:
                    # long runs become searchable as they go
                    self.checkpoint()
                    since_publish = 0
            if self.progress:
                self.progress(done, len(todo))
        self._flush(batch, other)

    def _prepare_all(self, todo: list[CorpusFile]) -> Iterator[_Outcome]:
        """Outcomes in corpus order, computed ahead by worker threads (bounded window)."""
        window = max(4, self.settings.batch_size * 3)
        with ThreadPoolExecutor(max_workers=max(1, self.settings.workers)) as pool:
            pending: list[Future[_Outcome]] = []
            files = iter(todo)
            for f in files:
                pending.append(pool.submit(self._prepare, f))
                if len(pending) >= window:
                    break
            while pending:
                outcome = pending.pop(0).result()
                nxt = next(files, None)
                if nxt is not None:
                    pending.append(pool.submit(self._prepare, nxt))
                yield outcome

    def _prepare(self, f: CorpusFile) -> _Outcome:
        try:
            data = self.source.read(f)
        except OSError as exc:
            return _Failed(f, "io_error", f"cannot read the file: {exc.strerror or exc}")
        fmt = sniff_format(data[:132])
        if fmt is None and PurePosixPath(f.relpath).suffix.lower() not in IMAGE_SUFFIXES:
            return _Skipped(f, "not an image")
        sha = hashlib.sha256(data).hexdigest()
        state = self.states.get(f.relpath)
        if state and state.sha256 == sha:  # touched, not changed
            return _Prepared(f, sha, fmt or "", 0, 0, {}, None)
        try:
            decoded = decode_image_bytes(
                data,
                max_pixels=self.settings.max_image_pixels,
                draft_size=self.draft_size,
                descriptions=self.settings.keep_descriptions,
            )
            if self.settings.ocr_burned_in:
                settle_burned_in(decoded.metadata, data, self.settings.max_image_pixels)
            # bytes embedded before need no pixels: their vector is copied
            known = sha in self.id_by_sha
            pixels = None if known else self.encoder.prepare(decoded.image)
        except UnreadableImageError as exc:
            return _Failed(f, exc.reason, exc.message)
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the run
            return _Failed(f, "corrupt", f"{type(exc).__name__}: {exc}")
        meta = dict(decoded.metadata)
        return _Prepared(f, sha, decoded.format, decoded.width, decoded.height, meta, pixels)

    def _flush(self, batch: list[_Prepared], other: list[_Failed | _Skipped]) -> int:
        """Embed and write one batch in one transaction; return how many rows it added."""
        for item in other:
            if isinstance(item, _Skipped):
                self.report.skipped[item.reason] += 1
            else:
                self.report.failed.append(
                    {"path": item.file.relpath, "reason": item.reason, "message": item.message}
                )
        touched = [p for p in batch if self._is_touch(p)]
        fresh = [p for p in batch if not self._is_touch(p)]
        vectors = self._vectors_for(fresh)
        replaced = [self.states[p.file.relpath].id for p in fresh if p.file.relpath in self.states]
        rows = [self._row(p) for p in fresh]
        with self.store.session() as session:
            for item in other:
                if isinstance(item, _Failed):
                    f = item.file
                    Store.record_failure(
                        session, f.relpath, f.size, f.mtime, item.reason, item.message
                    )
            Store.delete_images(session, replaced)
            ids = Store.add_images(session, rows) if rows else []
            Store.add_identifiers(
                session, [(i, p.file.uids) for p, i in zip(fresh, ids, strict=True) if p.file.uids]
            )
            if ids:
                # vectors reach the disk before the rows that point at them are committed
                self.vectors.write(ids, vectors)
                fault_point("batch:after-vectors")
            for p in touched:
                state = self.states[p.file.relpath]
                Store.touch_image(session, state.id, p.file.size, p.file.mtime)
            Store.clear_failures(session, [p.file.relpath for p in batch])
        for row, new_id in zip(rows, ids, strict=True):
            self.id_by_sha.setdefault(row["sha256"], new_id)
        self.report.unchanged += len(touched)
        self.report.updated += len(replaced)
        self.report.indexed += len(ids)
        return len(ids)

    def _is_touch(self, p: _Prepared) -> bool:
        state = self.states.get(p.file.relpath)
        return bool(state and state.sha256 == p.sha256)

    def _vectors_for(self, fresh: list[_Prepared]) -> np.ndarray:
        """One vector per image; each distinct content is embedded once, copies are read back."""
        to_embed: dict[str, np.ndarray] = {}
        for p in fresh:
            if p.sha256 not in self.id_by_sha and p.pixels is not None:
                to_embed.setdefault(p.sha256, p.pixels)
        embedded: dict[str, np.ndarray] = {}
        if to_embed:
            matrix = self.encoder.encode_prepared(list(to_embed.values()))
            embedded = dict(zip(to_embed, matrix, strict=True))
            self.report.embedded += len(to_embed)
        copies = {p.sha256 for p in fresh if p.sha256 not in embedded}
        copy_ids = [self.id_by_sha[sha] for sha in copies]
        embedded.update(zip(copies, self.vectors.read(copy_ids), strict=True))
        self.report.duplicates += len(fresh) - len(to_embed)
        if not fresh:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.stack([embedded[p.sha256] for p in fresh])

    def _row(self, p: _Prepared) -> dict[str, Any]:
        extra: dict[str, MetadataValue] = dict(p.metadata)
        modality = extra.pop("modality", None)
        sidecar = split_sidecar_fields(self.sidecar.get(p.file.relpath, {}))
        caption = sidecar.pop("caption", None)
        modality = sidecar.pop("modality", modality)
        extra.update(sidecar)
        return {
            "path": p.file.relpath,
            "sha256": p.sha256,
            "size": p.file.size,
            "mtime": p.file.mtime,
            "width": p.width,
            "height": p.height,
            "format": p.format,
            "modality": None if modality is None else str(modality),
            "caption": None if caption is None else str(caption),
            "extra": extra,
        }
