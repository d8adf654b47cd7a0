"""Indexing engines: where the prepare and embed stages of a run execute.

An engine takes the files the scan stage found new or changed and hands their outcomes, in corpus
order, to the run's :class:`~indexer.indexing.write_stage.Writer`, which stays in the indexing
process. Engines are looked up by name (``--engine``, ``MEDSEARCH_ENGINE``); adding one is a module
here and an entry in :data:`ENGINES` (and in :data:`indexer.settings.EngineName`).

* ``threaded`` (:mod:`.threaded`, the default): decoding threads and the model in this process;
* ``ray`` (:mod:`.ray_engine`): Ray Data tasks decode, an actor pool embeds, on a Ray cluster.

An engine checks the job's :attr:`EngineJob.stop` after each batch it writes and returns when it is
set (an interrupted run), leaving nothing half-written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Protocol

from ...encoders import Encoder
from ...imaging.case_keys import CaseKeys
from ...settings import Settings
from ...sources.base import CorpusFile, CorpusSource
from ..stages import StageClock
from ..write_stage import Writer

#: engine name -> "module:class", imported only when that engine runs
ENGINES: dict[str, str] = {
    "threaded": "indexer.indexing.engines.threaded:ThreadedEngine",
    "ray": "indexer.indexing.engines.ray_engine:RayEngine",
}


@dataclass
class EngineJob:
    """One run's work for an engine."""

    settings: Settings
    #: the encoder loaded in the indexing process (its fingerprint is the index's)
    encoder: Encoder
    source: CorpusSource
    #: the files to prepare, embed and write, in corpus order
    todo: list[CorpusFile]
    writer: Writer
    clock: StageClock
    #: called with the number of files done so far
    progress: Callable[[int], None] | None
    #: set to stop after the batch in flight is written
    stop: threading.Event = field(default_factory=threading.Event)
    #: keys of the index's series, study (and patient) fields, for DICOM instances
    case_keys: CaseKeys | None = None


class Engine(Protocol):
    """Runs the prepare and embed stages of a job and writes every batch with its writer."""

    def connect(self, settings: Settings) -> None:
        """Make sure the engine can run (before the model is loaded, so a wrong setting fails
        at once); raise :class:`~indexer.errors.EngineUnavailableError` if it cannot."""
        ...

    def run(self, job: EngineJob) -> None: ...


def load_engine(name: str) -> Engine:
    """The engine registered as ``name``."""
    module_name, _, class_name = ENGINES[name].partition(":")
    engine: Engine = getattr(import_module(module_name), class_name)()
    return engine
