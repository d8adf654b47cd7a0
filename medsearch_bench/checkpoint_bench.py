"""The cost of a checkpoint of a long indexing run, on an index ``bench scale`` built.

A long ``medsearch index`` run publishes every 20,000 new images (or every
``MEDSEARCH_CHECKPOINT_SECONDS``). This benchmark does what such a run does between two
checkpoints and at each: it appends ``rows`` synthetic rows and vectors in batches of 32, each
batch one unit of work as the write stage commits it, then publishes with the run's
:class:`~indexer.storage.run_publications.RunPublications`, as the pipeline's checkpoint does;
``checkpoints`` times over. The first checkpoint of a run reads back the published vectors to
check them; the later ones show what a checkpoint costs in the middle of a run. Each step says
which of the ANN index's files it wrote: ``index.faiss`` (whole), or only its recent part. It only
runs on a folder ``bench scale --out`` made, whose rows are synthetic, and it adds rows to it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import InvalidRequestError
from indexer.settings import Settings
from indexer.storage.folder import FAISS_FILE, RECENT_FILE, IndexFolder
from indexer.storage.publish import publish
from indexer.storage.run_publications import RunPublications

from . import LogFn, no_log
from .scale_bench import SYNTHETIC_CORPUS, Synthetic, synthetic_row
from .stats import machine_facts

#: images the write stage commits in one unit of work (the default batch size)
BATCH = 32


def run_checkpoint_bench(
    index_dir: Path,
    *,
    rows: int = 20_000,
    checkpoints: int = 2,
    settings: Settings,
    log: LogFn = no_log,
) -> dict[str, Any]:
    """Append ``rows`` rows and publish, ``checkpoints`` times, on the synthetic index in
    ``index_dir``; the seconds of each step."""
    folder = IndexFolder(index_dir)
    info = folder.read_info()
    if not (info.corpus_root or "").endswith(SYNTHETIC_CORPUS):
        raise InvalidRequestError(
            f"{index_dir} is not an index `medsearch bench scale --out` made; "
            "this benchmark adds synthetic rows to it"
        )
    run = RunPublications()
    data = Synthetic(info.dim, 1000)
    vector_file = folder.vector_file(info.dim)
    steps = []
    with folder.writer_lock(), folder.open_store(create=True) as store:
        for number in range(checkpoints):
            first = int(store.ids().max(initial=0)) + 1
            vectors, _ = data.vectors(rows, start=first - 1)
            log(f"checkpoint {number + 1}: {rows:,} rows from id {first:,}")
            started, now = time.perf_counter(), time.time()
            for start in range(0, rows, BATCH):
                ids = np.arange(first + start, first + min(rows, start + BATCH), dtype=np.int64)
                vector_file.write(ids, vectors[start : start + len(ids)])
                with store.writer() as w:
                    w.insert_rows([synthetic_row(int(i), now) for i in ids])
            written = time.perf_counter() - started
            started, before = time.perf_counter(), info.checksums
            info = publish(folder, store, info, settings.index_type, settings.index_memory, run=run)
            seconds = time.perf_counter() - started
            steps.append(
                {
                    "images_before": first - 1,
                    "write_seconds": round(written, 2),
                    "write_ms_per_batch": round(written / -(-rows // BATCH) * 1000, 2),
                    "publish_seconds": round(seconds, 2),
                    "index_type": info.index_type,
                    "index_files_written": _written(before, info.checksums),
                    "recent_file_mb": _size_mb(folder.recent_path),
                }
            )
    return {"index": str(index_dir), "rows": rows, "checkpoints": steps, "machine": machine_facts()}


def _written(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The ANN index's files a publication wrote (their checksums changed)."""
    files = (FAISS_FILE, RECENT_FILE)
    return [name for name in files if name in after and after[name] != before.get(name)]


def _size_mb(path: Path) -> float:
    return round(path.stat().st_size / 2**20, 1) if path.is_file() else 0.0
