"""The default engine: decoding threads ahead of the model, all in the indexing process.

Worker threads read, hash, decode and resize the files (a bounded window ahead, in corpus order)
while the model embeds the previous batch; the writer then commits it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from ...settings import Settings
from ...sources.base import CorpusFile
from ..stages import Outcome, Preparer, embed_distinct, in_batches
from . import EngineJob


class ThreadedEngine:
    """Prepare in ``settings.workers`` threads, embed and write in the calling thread."""

    def connect(self, settings: Settings) -> None:
        """Nothing to join: the threads start with each run."""

    def run(self, job: EngineJob) -> None:
        encoder, writer, clock = job.encoder, job.writer, job.clock
        preparer = Preparer.for_settings(
            job.settings, job.source.read, encoder.prepare, encoder.draft_size, job.case_keys
        )

        def prepare(f: CorpusFile) -> Outcome:
            started = time.perf_counter()
            try:
                return preparer(f, writer.indexed_sha(f.relpath), writer.id_by_sha)
            finally:
                clock.add("prepare", time.perf_counter() - started)

        outcomes = _ahead(prepare, job.todo, job.settings.workers, job.settings.batch_size)
        for batch, other in in_batches(outcomes, job.settings.batch_size, job.progress):
            with clock.timing("embed"):
                vectors = embed_distinct(
                    encoder.encode_prepared,
                    ((p.sha256, p.pixels) for p in batch),
                    writer.id_by_sha,
                )
            for p in batch:
                p.vector = vectors.get(p.sha256)
            writer.write(batch, other)
            if job.stop.is_set():
                return


def _ahead(
    prepare: Callable[[CorpusFile], Outcome], todo: list[CorpusFile], workers: int, batch_size: int
) -> Iterator[Outcome]:
    """Outcomes in corpus order, computed ahead by worker threads (bounded window); files not
    started yet when the consumer stops early are never prepared."""
    window = max(4, batch_size * 3)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: list[Future[Outcome]] = []
        files = iter(todo)
        for f in files:
            pending.append(pool.submit(prepare, f))
            if len(pending) >= window:
                break
        try:
            while pending:
                outcome = pending.pop(0).result()
                nxt = next(files, None)
                if nxt is not None:
                    pending.append(pool.submit(prepare, nxt))
                yield outcome
        finally:
            for future in pending:
                future.cancel()
