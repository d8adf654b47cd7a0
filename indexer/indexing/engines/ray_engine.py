"""The Ray engine: prepare on a cluster's CPUs with Ray Data, embed in a pool of model actors.

The indexing process (the driver) scans and decides what is new, as in every run. Ray Data then
runs the prepare stage as tasks spread over the cluster's CPUs: each reads its files through the
run's corpus source (by path, so the nodes share the corpus folder; a PACS is asked by each node
itself), hashes, decodes and resizes them with the encoder's picklable preparation (the model is
not loaded there); contents the index already holds (sent once as a compact
:class:`~indexer.indexing.known_contents.KnownContents`) get no pixels. An
actor pool, each actor loading the model once (on ``gpus_per_worker`` GPUs where set), embeds
the batches. Only rows of facts and vectors stream back to the driver, in corpus order and
bounded by Ray Data's backpressure; the driver's writer keeps the single-writer commit, the
sha256 dedup (within-run copies are resolved there) and the fsync order.

A lost task is retried and a lost actor restarted by Ray; a killed driver leaves what it had
committed, and the next run finishes the job. An interrupted run stops reading the dataset after
the batch in flight, as with threads. Ray is imported here only, when the engine runs.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ...encoders import Encoder, load_encoder
from ...encoders.preparation import ImagePreparation
from ...errors import EncoderMismatchError, EngineUnavailableError, MedSearchError
from ...imaging.case_keys import CaseKeys
from ...records import InstanceUIDs
from ...settings import Settings
from ...sources.base import CorpusFile, CorpusSource
from ..known_contents import KnownContents
from ..stages import Failed, Outcome, Prepared, Preparer, Skipped, embed_distinct, in_batches
from . import EngineJob

#: memory a prepare task reserves on its node: a large decoded image and its copies, and the
#: set of contents already indexed (the model is not loaded there)
_PREPARE_TASK_MEMORY = 1024**3
#: seconds to wait for the Ray cluster's port to answer
_CONNECT_TIMEOUT_S = 10.0
#: batches the driver fetches ahead of the write stage
_PREFETCH_BATCHES = 2


@dataclasses.dataclass(frozen=True)
class _ModelSpec:
    """What a worker needs to load the run's encoder, and the fingerprint it must have."""

    model_ref: str
    fingerprint: str
    device: str
    precision: str
    compile_images: bool
    trust_remote_code: bool


class RayEngine:
    """Prepare as Ray Data tasks, embed in an actor pool, write in the driver."""

    def connect(self, settings: Settings) -> None:
        _connect(settings)

    def run(self, job: EngineJob) -> None:
        if not job.todo:
            return
        ray = _connect(job.settings)
        from ray.data import ActorPoolStrategy, DataContext

        settings, writer = job.settings, job.writer
        spec = _ModelSpec(
            job.encoder.model_ref,
            job.encoder.fingerprint,
            settings.device,
            settings.precision,
            settings.compile,
            settings.trust_remote_code,
        )
        rows = [_row(i, f, writer.indexed_sha(f.relpath)) for i, f in enumerate(job.todo)]
        context = DataContext.get_current()
        preserved = context.execution_options.preserve_order, context.enable_progress_bars
        # the writer assigns ids in corpus order, as the threaded engine does
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        try:
            blocks = max(1, min(len(rows) // settings.batch_size + 1, 1000))
            dataset = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
                _prepare_batch,
                batch_size=settings.batch_size,
                batch_format="numpy",
                fn_kwargs={
                    "source": job.source,
                    "preparation": job.encoder.preparation,
                    "settings": settings,
                    "known": KnownContents(writer.id_by_sha),
                    "case_keys": job.case_keys,
                },
                # a reservation of its own also keeps Ray Data from fusing decoding into the
                # embedding actors, so decoding spreads over every free CPU
                memory=_PREPARE_TASK_MEMORY,
            )
            gpus = settings.gpus_per_worker
            dataset = dataset.map_batches(
                _EmbedActor,
                batch_size=settings.batch_size,
                batch_format="numpy",
                fn_constructor_kwargs={"spec": spec},
                compute=ActorPoolStrategy(min_size=1, max_size=settings.workers),
                num_gpus=gpus or None,
                num_cpus=1,
            )
            batches = dataset.iter_batches(
                batch_size=settings.batch_size,
                batch_format="numpy",
                prefetch_batches=_PREFETCH_BATCHES,
            )
            outcomes = _outcomes(batches, job)
            for batch, other in in_batches(outcomes, settings.batch_size, job.progress):
                writer.write(batch, other)
                if job.stop.is_set():
                    break  # the dataset's tasks and actors end with its iterator
        except MedSearchError:
            raise
        except Exception as exc:
            # Ray wraps what a task or actor raised (a worker's model that is not the index's)
            cause = _medsearch_cause(exc)
            if cause is None:
                raise
            raise cause from exc
        finally:
            context.execution_options.preserve_order, context.enable_progress_bars = preserved


def _connect(settings: Settings) -> Any:
    """The ``ray`` module, joined to the settings' cluster (or a local one) unless it already is."""
    try:
        import ray
        import ray.data  # noqa: F401 - the engine needs Ray Data, not only Ray core
    except ImportError as exc:
        raise EngineUnavailableError(
            f"the ray engine needs Ray Data ({exc}); install it with pip install 'medsearch[ray]'"
        ) from exc
    if ray.is_initialized():
        return ray
    if settings.ray_address and settings.ray_address != "auto":
        _require_reachable(settings.ray_address)
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # MedSearch shows its own progress; Ray Data would say at length that its bars are off
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    on_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        ray.init(
            address=settings.ray_address,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError ...
        where = settings.ray_address or "a local Ray runtime"
        raise EngineUnavailableError(f"cannot join the Ray cluster at {where}: {exc}") from exc
    if callable(on_sigterm) and threading.current_thread() is threading.main_thread():
        # Ray's own handler exits at once; an interrupted run finishes its batch and publishes
        signal.signal(signal.SIGTERM, on_sigterm)
    return ray


def _require_reachable(address: str) -> None:
    """Fail at once on an address nothing listens at (Ray itself would retry for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise EngineUnavailableError(
            f"the Ray address {address!r} is not auto, HOST:PORT or ray://HOST:PORT"
        )
    try:
        socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise EngineUnavailableError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}"
        ) from exc


def _medsearch_cause(exc: BaseException) -> MedSearchError | None:
    """The MedSearch error behind ``exc``, following Ray's wrappers and Python's chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, MedSearchError):
            return current
        seen.add(id(current))
        current = getattr(current, "cause", None) or current.__cause__
    return None


def _row(position: int, f: CorpusFile, indexed_sha: str | None) -> dict[str, Any]:
    study, series, sop = f.uids or ("", "", "")
    return {
        "position": position,
        "path": str(f.path),
        "relpath": f.relpath,
        "size": f.size,
        "mtime": f.mtime,
        "study_uid": study,
        "series_uid": series,
        "sop_uid": sop,
        "indexed_sha": indexed_sha or "",
    }


def _file(batch: dict[str, np.ndarray], i: int) -> CorpusFile:
    uids = InstanceUIDs(
        str(batch["study_uid"][i]), str(batch["series_uid"][i]), str(batch["sop_uid"][i])
    )
    return CorpusFile(
        Path(str(batch["path"][i])),
        str(batch["relpath"][i]),
        int(batch["size"][i]),
        float(batch["mtime"][i]),
        uids if all(uids) else None,
    )


@functools.cache
def _encoder(spec: _ModelSpec) -> Encoder:
    """The run's encoder in this worker process, loaded once and checked against the driver's."""
    encoder = load_encoder(
        spec.model_ref,
        device=spec.device,
        precision=spec.precision,
        compile_images=spec.compile_images,
        trust_remote_code=spec.trust_remote_code,
    )
    if encoder.fingerprint != spec.fingerprint:
        raise EncoderMismatchError(
            f"the model {spec.model_ref} on this Ray worker is not the one the index was built "
            f"with (fingerprint {encoder.fingerprint}, expected {spec.fingerprint}); give every "
            "node the same model folder"
        )
    return encoder


def _prepare_batch(
    batch: dict[str, np.ndarray],
    source: CorpusSource,
    preparation: ImagePreparation,
    settings: Settings,
    known: KnownContents,
    case_keys: CaseKeys | None,
) -> dict[str, np.ndarray]:
    """The prepare stage over one block of rows (a Ray Data task on a CPU, without the model)."""
    preparer = Preparer.for_settings(
        settings, source.read, preparation.prepare, preparation.draft_size, case_keys
    )
    n = len(batch["position"])
    side = preparation.image_size
    pixels = np.zeros((n, side, side, 3), dtype=np.uint8)
    columns: dict[str, list[Any]] = {
        key: [] for key in ("kind", "sha256", "facts", "has_pixels", "prepare_s")
    }
    for i in range(n):
        started = time.perf_counter()
        outcome = preparer(_file(batch, i), str(batch["indexed_sha"][i]) or None, known)
        columns["prepare_s"].append(time.perf_counter() - started)
        columns["kind"].append(type(outcome).__name__)
        if isinstance(outcome, Prepared):
            columns["sha256"].append(outcome.sha256)
            facts = [outcome.format, outcome.width, outcome.height, outcome.metadata]
            columns["facts"].append(json.dumps(facts))
            columns["has_pixels"].append(outcome.pixels is not None)
            if outcome.pixels is not None:
                pixels[i] = outcome.pixels
        else:
            columns["sha256"].append("")
            detail = [outcome.reason, outcome.message if isinstance(outcome, Failed) else ""]
            columns["facts"].append(json.dumps(detail))
            columns["has_pixels"].append(False)
    return {
        "position": batch["position"],
        **{key: np.asarray(values) for key, values in columns.items()},
        "pixels": pixels,
    }


class _EmbedActor:
    """One model replica: embeds the prepared rows of each batch it is given."""

    def __init__(self, spec: _ModelSpec) -> None:
        self.encoder = _encoder(spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        shas = [str(s) for s in batch["sha256"]]
        items = [
            (sha, batch["pixels"][i] if batch["has_pixels"][i] else None)
            for i, sha in enumerate(shas)
        ]
        by_sha = embed_distinct(self.encoder.encode_prepared, items, ())
        vectors = np.zeros((len(shas), self.encoder.dim), dtype=np.float32)
        for i, sha in enumerate(shas):
            if sha in by_sha:
                vectors[i] = by_sha[sha]
        out = {key: value for key, value in batch.items() if key != "pixels"}
        out["vector"] = vectors
        out["embed_s"] = np.full(len(shas), (time.perf_counter() - started) / max(1, len(shas)))
        return out


def _outcomes(batches: Any, job: EngineJob) -> Iterator[Outcome]:
    """The rows streamed back from the cluster as outcomes, in corpus order."""
    for batch in batches:
        job.clock.add("prepare", float(np.sum(batch["prepare_s"])))
        job.clock.add("embed", float(np.sum(batch["embed_s"])))
        for i, position in enumerate(batch["position"]):
            f = job.todo[int(position)]
            kind, facts = str(batch["kind"][i]), json.loads(str(batch["facts"][i]))
            if kind == Prepared.__name__:
                fmt, width, height, metadata = facts
                vector = batch["vector"][i] if batch["has_pixels"][i] else None
                yield Prepared(
                    f, str(batch["sha256"][i]), fmt, width, height, metadata, None, vector
                )
            elif kind == Failed.__name__:
                yield Failed(f, *facts)
            else:
                yield Skipped(f, facts[0])
