"""Duplicate reports of one index folder, for the CLI and the service.

:class:`DuplicateFinder` reads the published vectors once per index generation, resolves the
threshold (the one given, or the index's adaptive one), reads the ``across`` field's values and
keeps the last few reports, so a page reviewing clusters does not search the index again.
"""

from __future__ import annotations

import threading

from ..errors import InvalidRequestError
from ..query_cache import QueryCache
from ..storage.folder import IndexFolder
from ..storage.metadata_db import Store
from .duplicate_threshold import AdaptiveThreshold, adaptive_threshold
from .duplicates import DuplicateReport, IndexedVectors, find_duplicates

#: reports kept per finder (each holds its clusters' ids)
_REPORTS_KEPT = 8


class DuplicateFinder:
    """Near-duplicate clusters and the adaptive threshold of the index in ``folder``."""

    def __init__(self, folder: IndexFolder, store: Store) -> None:
        self.folder = folder
        self.store = store
        self._lock = threading.Lock()
        self._indexed: IndexedVectors | None = None
        self._reports: QueryCache[DuplicateReport] = QueryCache(_REPORTS_KEPT)

    def indexed(self) -> IndexedVectors:
        """The published vectors of the current generation (read again after a publication)."""
        info = self.folder.read_info()
        with self._lock:
            if self._indexed is None or self._indexed.generation != info.generation:
                self._indexed = IndexedVectors.read(self.folder, self.store, info)
            return self._indexed

    def threshold(self) -> AdaptiveThreshold:
        """The index's adaptive threshold (cached in the folder per generation)."""
        return adaptive_threshold(self.indexed(), self.folder.path)

    def report(self, threshold: float | None = None, across: str | None = None) -> DuplicateReport:
        """The clusters at ``threshold`` (the adaptive one when None); with ``across``, only
        those spanning several values of that field, with the leakage counts."""
        if threshold is not None and not -1.0 <= threshold <= 1.0:
            raise InvalidRequestError("threshold must be a cosine between -1 and 1")
        if across is not None:
            self.store.groups.check_field(across)
        indexed = self.indexed()
        key = (indexed.generation, threshold, across)
        return self._reports.get_or_compute(key, lambda: self._report(indexed, threshold, across))

    def _report(
        self, indexed: IndexedVectors, threshold: float | None, across: str | None
    ) -> DuplicateReport:
        rule = "given"
        if threshold is None:
            threshold, rule = adaptive_threshold(indexed, self.folder.path).threshold, "adaptive"
        values = None
        if across is not None:
            ids, found = self.store.field_values(across)
            values = dict(zip(ids.tolist(), found, strict=True))
        return find_duplicates(
            indexed, threshold, threshold_rule=rule, across=across, across_values=values
        )
