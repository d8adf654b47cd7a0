"""What one indexing run did: counts, failures, skipped files, how a metadata sidecar met the
corpus, the rate and each stage's busy time.

The rate is :func:`files_per_second` of the files processed so far and the seconds since
processing began, one clock for the progress bar and the summary, so the two agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..records import MetadataValue
from ..storage.schema import MEASURED_FIELDS, RENAMED_SIDECAR_FIELDS
from .stages import StageClock

#: skipped files and unmatched sidecar paths a report names (it counts them all)
LISTED = 100


def files_per_second(files: int, seconds: float) -> float:
    """The run's rate: files processed (read, prepared, embedded or copied, written; skipped and
    failed ones too) per second since processing began."""
    return files / seconds if seconds > 0 else 0.0


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
    #: indexed files left as they were whose stored metadata a new or changed sidecar, or their
    #: series' instance count (``series_slices``), changed
    metadata_updated: int = 0
    pruned: int = 0
    #: indexed files no longer on disk (kept; use --prune to remove them)
    missing: int = 0
    #: slices of DICOM series in the corpus not embedded because of ``--slices``
    slices_left_out: int = 0
    #: of those, images the index held that were removed (a smaller ``--slices`` than before)
    slices_removed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    #: the first :data:`LISTED` skipped files, ``{"path", "reason"}``
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    count: int = 0
    seconds: float = 0.0
    embedded: int = 0
    #: files processed and written, and the seconds from the start of processing to the last
    #: write (model load, scan and publishing excluded)
    processed: int = 0
    processing_seconds: float = 0.0
    #: the engine that prepared and embedded the images
    engine: str = "threaded"
    #: busy seconds of each stage, summed over the threads or workers that ran it
    clock: StageClock = field(default_factory=StageClock)
    #: how the run's metadata sidecar met the corpus (None: no sidecar)
    sidecar: SidecarReport | None = None

    def add_skipped(self, path: str, reason: str) -> None:
        self.skipped[reason] += 1
        if len(self.skipped_files) < LISTED:
            self.skipped_files.append({"path": path, "reason": reason})

    @property
    def images_per_s(self) -> float:
        """:func:`files_per_second` of the whole run (the progress bar's last rate)."""
        return files_per_second(self.processed, self.processing_seconds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "indexed": self.indexed,
            "updated": self.updated,
            "metadata_updated": self.metadata_updated,
            "duplicates": self.duplicates,
            "unchanged": self.unchanged,
            "pruned": self.pruned,
            "missing": self.missing,
            "slices_left_out": self.slices_left_out,
            "slices_removed": self.slices_removed,
            "skipped": dict(self.skipped),
            "skipped_files": self.skipped_files,
            "failed": self.failed,
            "count": self.count,
            "seconds": round(self.seconds, 3),
            "images_per_s": round(self.images_per_s, 2),
            "embedded": self.embedded,
            "processed": self.processed,
            "processing_seconds": round(self.processing_seconds, 3),
            "engine": self.engine,
            "stage_seconds": self.clock.to_dict(),
            **({"sidecar": self.sidecar.to_dict()} if self.sidecar else {}),
        }


@dataclass
class SidecarReport:
    """How a metadata sidecar met the corpus: rows that name no file, columns not stored as such."""

    rows: int
    #: paths the sidecar names that are not in the corpus, sorted
    unmatched: list[str]
    #: columns the index measures itself (``format``, ``width`` ...), not stored from the sidecar
    set_aside: list[str]
    #: columns stored under another name (``id`` -> ``sidecar_id``)
    renamed: dict[str, str]

    @classmethod
    def of(
        cls, sidecar: Mapping[str, Mapping[str, MetadataValue]], corpus_paths: Container[str]
    ) -> SidecarReport:
        columns = {name for fields in sidecar.values() for name in fields}
        return cls(
            rows=len(sidecar),
            unmatched=sorted(path for path in sidecar if path not in corpus_paths),
            set_aside=sorted(columns & MEASURED_FIELDS - set(RENAMED_SIDECAR_FIELDS)),
            renamed={k: v for k, v in RENAMED_SIDECAR_FIELDS.items() if k in columns},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "unmatched": len(self.unmatched),
            "unmatched_paths": self.unmatched[:LISTED],
            "set_aside_columns": self.set_aside,
            "renamed_columns": self.renamed,
        }
