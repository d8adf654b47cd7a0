"""The indexing run: scan a corpus, prepare and embed what is new, write rows and vectors, publish.

A run goes through the stages of :mod:`indexer.indexing.stages`: the scan and the write stage run
here, the prepare and embed stages in the engine the settings name (:mod:`indexer.indexing.engines`;
threads in this process by default, or a Ray cluster). Each batch is written in one SQLite
transaction, its vectors fsynced just before the commit (:mod:`indexer.indexing.write_stage`), so a
kill at any moment leaves every committed image with its vector; the ANN index is derived from both
and brought in line at the end of every run (see :mod:`indexer.storage.publish`). A write that finds
the disk full stops the run with :class:`~indexer.errors.DiskFullError`; the batch it was writing is
rolled back and the published version stays as it was.

The scan also groups the corpus's DICOM instances into series, in memory
(:mod:`indexer.indexing.slice_sampling`): each instance records its series' instance count, and
with ``--slices N`` only N slices of each series go to the engine, while indexed slices no longer
chosen are removed the way ``--prune`` removes deleted files.

A run is published as it goes (see :class:`~indexer.indexing.write_stage.Writer`) and can be
stopped: once the ``stop`` event given to :func:`index_corpus` is set (an interrupted command), the
engine returns after the batch in flight and what is committed is published as usual; running
again continues.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from ..encoders import Encoder, encoder_from_settings
from ..encoders.onnx.calibration import Calibration
from ..errors import InvalidRequestError
from ..imaging.case_keys import CaseKeys
from ..records import MetadataValue
from ..settings import Settings
from ..sources.base import CorpusSource
from ..sources.registry import open_source
from ..sources.sidecar import load_metadata
from ..storage.atomic import reporting_disk_full
from ..storage.folder import IndexFolder, new_info, require_same_encoder
from ..storage.group_key import ensure_group_key
from ..storage.info import IndexInfo
from ..storage.metadata_db import Store
from ..storage.publish import publish
from ..storage.run_publications import RunPublications
from ..storage.vectors import VectorFile
from .calibration import source_calibration
from .engines import Engine, EngineJob, load_engine
from .null_queries import null_queries_of
from .preflight import check_run_folders
from .report import IndexReport, SidecarReport
from .slice_sampling import plan_slices
from .stages import scan_stage
from .write_stage import Writer

__all__ = ["IndexReport", "ProgressCallback", "encoder_for", "index_corpus"]

#: called with the files processed so far, the files to process and the seconds since processing
#: began (the clock of the run's rate, :func:`indexer.indexing.report.files_per_second`)
ProgressCallback = Callable[[int, int, float], None]


def index_corpus(
    settings: Settings,
    corpus: Path | CorpusSource,
    *,
    metadata_file: Path | None = None,
    model: str | None = None,
    prune: bool = False,
    encoder: Encoder | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    allow_empty_corpus: bool = False,
) -> IndexReport:
    """Bring the index in ``settings.index_dir`` up to date with the images under ``corpus``
    (a folder, or a source :func:`indexer.sources.registry.open_source` opened).

    Setting ``stop`` ends the run early: the batch in flight is written, the rest left for the
    next run, and what is committed is published. A corpus or index folder that is a mistake is
    refused before anything is written (:func:`~indexer.indexing.preflight.check_run_folders`), a
    corpus without images too unless ``allow_empty_corpus`` (a folder being watched) or the index
    exists already."""
    source = open_source(corpus, settings) if isinstance(corpus, Path) else corpus
    root = source.root
    sidecar = load_metadata(metadata_file) if metadata_file else {}
    folder = IndexFolder(settings.index_dir)
    require_images = not folder.exists() and not allow_empty_corpus
    check_run_folders(source, folder, require_images=require_images)
    # the other files name themselves when they find the disk full; the rest is SQLite's
    with folder.writer_lock(), reporting_disk_full(folder.db_path.name):
        folder.remove_stale_temporaries()
        info = folder.read_info() if folder.exists() else None
        engine = load_engine(settings.engine)
        engine.connect(settings)
        encoder = encoder or _load_encoder(
            settings, info, model, source_calibration(settings, source, sidecar)
        )
        started = time.perf_counter()  # the rate is the pipeline's, not the model load's
        if info is None:
            info = new_info(encoder.describe(), root, settings.index_type)
            info = replace(info, fidelity=encoder.fidelity_record())
            store = folder.open_store(create=True)
            folder.write_info(info)
        else:
            require_same_encoder(info, encoder.fingerprint, encoder.model_ref, folder.path)
            _check_same_corpus(info, root, folder.path)
            info = replace(info, fidelity=encoder.fidelity_record() or info.fidelity)
            store = folder.open_store(create=True)
        # made with the index, or on the first run of an index older than group keys
        case_keys = CaseKeys.of(ensure_group_key(folder.path), settings.pseudonym_key)
        state: dict[str, IndexInfo] = {"info": info}
        null_queries = null_queries_of(encoder)
        run_publications = RunPublications()  # spares each checkpoint what the last one did

        def checkpoint() -> None:
            state["info"] = publish(
                folder,
                store,
                state["info"],
                settings.index_type,
                settings.index_memory,
                settings.group_field_names,
                null_queries,
                run_publications,
            )

        try:
            vectors = folder.vector_file(encoder.dim)
            report = _run(
                settings,
                engine,
                encoder,
                source,
                store,
                vectors,
                case_keys,
                sidecar,
                prune,
                progress,
                checkpoint,
                stop or threading.Event(),
            )
            with store.writer() as w:
                report.metadata_updated += w.apply_sidecar(sidecar)
            checkpoint()
            report.count = state["info"].count
        finally:
            store.close()
    report.seconds = time.perf_counter() - started
    return report


def encoder_for(
    settings: Settings, model: str | None = None, source: CorpusSource | None = None
) -> Encoder:
    """The encoder a run would load (``model``, else the index's own, else the setting), for
    callers that run many times in a row (``--watch``); an int8 model is calibrated on
    ``source``."""
    folder = IndexFolder(settings.index_dir)
    info = folder.read_info() if folder.exists() else None
    calibration = source_calibration(settings, source, {}) if source is not None else None
    return _load_encoder(settings, info, model, calibration)


def _load_encoder(
    settings: Settings,
    info: IndexInfo | None,
    model: str | None,
    calibration: Calibration | None = None,
) -> Encoder:
    recorded = info.encoder.model if info else None
    return encoder_from_settings(settings, model or recorded, calibration=calibration)


def _check_same_corpus(info: IndexInfo, root: str, where: Path) -> None:
    if info.corpus_root and info.corpus_root != root:
        raise InvalidRequestError(
            f"the index in {where} holds images of {info.corpus_root}, not of {root}; "
            "paths are stored relative to the corpus folder, so use a new --index folder"
        )


def _run(
    settings: Settings,
    engine: Engine,
    encoder: Encoder,
    source: CorpusSource,
    store: Store,
    vectors: VectorFile,
    case_keys: CaseKeys,
    sidecar: Mapping[str, Mapping[str, MetadataValue]],
    prune: bool,
    progress: ProgressCallback | None,
    checkpoint: Callable[[], None],
    stop: threading.Event,
) -> IndexReport:
    """Scan, leave out the slices ``--slices`` does not take, hand what is new to the engine,
    then prune or count what is gone."""
    report = IndexReport(engine=settings.engine)
    with report.clock.timing("scan"):
        files = source.scan()
        plan = plan_slices(source.slice_places(files), settings.slices_per_series)
        writer = Writer(
            store, vectors, sidecar, report, checkpoint, settings.checkpoint_seconds, plan.metadata
        )
        failures = store.failure_states()
        taken = [f for f in files if f.relpath not in plan.left_out]
        scanned = scan_stage(taken, writer.states, failures)
    report.scanned = len(files)
    report.slices_left_out = len(plan.left_out)
    report.slices_removed = writer.remove(plan.left_out, failures.keys() & plan.left_out)
    report.unchanged = scanned.unchanged
    report.failed.extend(
        {"path": f.relpath, "reason": "unchanged_since_failure"} for f in scanned.unchanged_failures
    )
    todo = [] if stop.is_set() else scanned.todo
    started = time.perf_counter()

    def files_done(done: int) -> None:
        report.processed, report.processing_seconds = done, time.perf_counter() - started
        if progress:
            progress(done, len(todo), report.processing_seconds)

    files_done(0)
    job = EngineJob(
        settings, encoder, source, todo, writer, report.clock, files_done, stop, case_keys
    )
    engine.run(job)
    on_disk = {f.relpath for f in files}
    gone = [s.id for p, s in writer.states.items() if p not in on_disk]
    if prune and gone:
        with store.writer() as w:
            w.delete_images(gone)
            w.clear_failures(set(failures) - on_disk)
        report.pruned = len(gone)
    else:
        report.missing = len(gone)
    if sidecar:
        report.sidecar = SidecarReport.of(sidecar, on_disk | writer.states.keys())
    with store.writer() as w:  # a series that gained or lost instances since they were indexed
        report.metadata_updated += w.update_extra(
            {relpath: plan.metadata(relpath) for relpath in plan.series_slices}
        )
    return report
