"""The stages of an indexing run, as callables every engine is built from.

scan -> prepare -> embed -> write:

* **scan** (:func:`scan_stage`): list the corpus and decide what is new, changed or unchanged;
* **prepare** (:class:`Preparer`): read one file, sniff, hash, decode and resize it to the
  model's input; a bad file becomes a :class:`Failed` record, never an exception;
* **embed** (:func:`embed_distinct`): one vector per distinct new content of a batch;
* **write** (:class:`~indexer.indexing.write_stage.Writer`): one transaction per batch, vectors
  fsynced before the commit, identical content copied rather than embedded again.

Engines (:mod:`indexer.indexing.engines`) decide where prepare and embed run (threads here, Ray
tasks and actors on a cluster); scan and write always run in the indexing process. Each stage's busy
time is added to a :class:`StageClock`, reported as ``stage_seconds`` in the run summary.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

from ..errors import UnreadableImageError
from ..imaging.burned_in import settle_burned_in
from ..imaging.case_keys import CaseKeys
from ..imaging.decode import IMAGE_SUFFIXES, decode_image_bytes, sniff_format
from ..records import MetadataValue
from ..settings import Settings
from ..sources.base import UNAVAILABLE, CorpusFile, PassingReadError
from ..storage.schema import FailureState, FileState

#: the stages, in the order an image goes through them
STAGES = ("scan", "prepare", "embed", "write")
#: failures and skips written at once when this many are waiting (no batch of images yet)
OTHER_FLUSH = 256


@dataclass
class Prepared:
    """A file ready to be written: its content hash, decoded facts and model input."""

    file: CorpusFile
    sha256: str
    format: str
    width: int
    height: int
    metadata: dict[str, MetadataValue]
    #: the model's input (uint8 [H, W, 3]); None when the content needs no embedding
    pixels: np.ndarray | None
    #: the embedding, once the embed stage has run (or an engine computed it elsewhere)
    vector: np.ndarray | None = None


@dataclass
class Failed:
    """A file that could not be read or decoded (recorded, never fatal)."""

    file: CorpusFile
    reason: str
    message: str


@dataclass
class Skipped:
    """A file that is not an image."""

    file: CorpusFile
    reason: str


Outcome = Prepared | Failed | Skipped


@dataclass
class StageClock:
    """Busy seconds per stage, summed over every thread or worker that ran it."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] += seconds

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def to_dict(self) -> dict[str, float]:
        return {stage: round(self.seconds[stage], 3) for stage in STAGES}


@dataclass
class ScanResult:
    """What the scan stage found: every file, and those the run must prepare."""

    files: list[CorpusFile]
    todo: list[CorpusFile]
    unchanged: int
    unchanged_failures: list[CorpusFile]


def scan_stage(
    files: list[CorpusFile],
    states: Mapping[str, FileState],
    failures: Mapping[str, FailureState],
) -> ScanResult:
    """Split the listed files into unchanged ones, unchanged failures and work to do; a file
    that failed for a passing reason (:data:`~indexer.sources.base.UNAVAILABLE`) is tried
    again even when unchanged."""
    todo: list[CorpusFile] = []
    unchanged = 0
    failed_before: list[CorpusFile] = []
    for f in files:
        state = states.get(f.relpath)
        if state and state.size == f.size and state.mtime == f.mtime:
            unchanged += 1
        elif _failed_for_good(failures.get(f.relpath), f):
            failed_before.append(f)
        else:
            todo.append(f)
    return ScanResult(files, todo, unchanged, failed_before)


def _failed_for_good(failure: FailureState | None, f: CorpusFile) -> bool:
    """Whether ``f`` failed before for a reason that holds as long as the file is unchanged."""
    if failure is None or failure.reason == UNAVAILABLE:
        return False
    return (failure.size, failure.mtime) == (f.size, f.mtime)


@dataclass(frozen=True)
class Preparer:
    """The prepare stage for one file: read, sniff, hash, decode, resize to the model's input.

    Picklable when ``read`` and ``to_pixels`` are, so engines can run it in other processes.
    """

    read: Callable[[CorpusFile], bytes]
    #: an image to the model's input (the encoder's ``prepare``)
    to_pixels: Callable[[Image.Image], np.ndarray]
    draft_size: int
    max_image_pixels: int
    keep_descriptions: bool
    ocr_burned_in: bool
    #: the index's keys for the series, study and patient keys of DICOM instances
    case_keys: CaseKeys | None = None

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        read: Callable[[CorpusFile], bytes],
        to_pixels: Callable[[Image.Image], np.ndarray],
        draft_size: int,
        case_keys: CaseKeys | None = None,
    ) -> Preparer:
        return cls(
            read,
            to_pixels,
            draft_size,
            settings.max_image_pixels,
            settings.keep_descriptions,
            settings.ocr_burned_in,
            case_keys,
        )

    def __call__(self, f: CorpusFile, indexed_sha: str | None, known: Container[str]) -> Outcome:
        """``indexed_sha``: the content the index holds for this path (None if new);
        ``known``: contents already embedded, which need no pixels (their vector is copied)."""
        try:
            data = self.read(f)
        except OSError as exc:
            reason = UNAVAILABLE if isinstance(exc, PassingReadError) else "io_error"
            return Failed(f, reason, f"cannot read the file: {exc.strerror or exc}")
        fmt = sniff_format(data[:132])
        if fmt is None and PurePosixPath(f.relpath).suffix.lower() not in IMAGE_SUFFIXES:
            return Skipped(f, "not an image")
        sha = hashlib.sha256(data).hexdigest()
        if indexed_sha == sha:  # touched, not changed
            return Prepared(f, sha, fmt or "", 0, 0, {}, None)
        try:
            decoded = decode_image_bytes(
                data,
                max_pixels=self.max_image_pixels,
                draft_size=self.draft_size,
                descriptions=self.keep_descriptions,
                case_keys=self.case_keys,
            )
            if self.ocr_burned_in:
                settle_burned_in(decoded.metadata, data, self.max_image_pixels)
            pixels = None if sha in known else self.to_pixels(decoded.image)
        except UnreadableImageError as exc:
            return Failed(f, exc.reason, exc.message)
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the run
            return Failed(f, "corrupt", f"{type(exc).__name__}: {exc}")
        meta = dict(decoded.metadata)
        return Prepared(f, sha, decoded.format, decoded.width, decoded.height, meta, pixels)


def embed_distinct(
    embed: Callable[[list[np.ndarray]], np.ndarray],
    items: Iterable[tuple[str, np.ndarray | None]],
    known: Container[str],
) -> dict[str, np.ndarray]:
    """The embed stage: vectors of the ``(sha256, pixels)`` items whose content is not
    ``known``, each distinct content embedded once."""
    to_embed: dict[str, np.ndarray] = {}
    for sha, pixels in items:
        if sha not in known and pixels is not None:
            to_embed.setdefault(sha, pixels)
    if not to_embed:
        return {}
    return dict(zip(to_embed, embed(list(to_embed.values())), strict=True))


def in_batches(
    outcomes: Iterable[Outcome],
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[list[Prepared], list[Failed | Skipped]]]:
    """Group outcomes, in order, into write batches of ``batch_size`` images (failures and skips
    go with them, or alone once :data:`OTHER_FLUSH` wait); ``progress`` gets the running count
    of outcomes in batches the caller is done with (written)."""
    batch: list[Prepared] = []
    other: list[Failed | Skipped] = []
    done = 0
    for outcome in outcomes:
        if isinstance(outcome, Prepared):
            batch.append(outcome)
        else:
            other.append(outcome)
        if len(batch) >= batch_size or len(other) >= OTHER_FLUSH:
            yield batch, other
            done += len(batch) + len(other)
            batch, other = [], []
            if progress:
                progress(done)
    yield batch, other
    if progress:
        progress(done + len(batch) + len(other))
