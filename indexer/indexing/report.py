"""What one indexing run did: counts, failures, the rate and each stage's busy time.

The rate is :func:`files_per_second` of the files processed so far and the seconds since
processing began, one clock for the progress bar and the summary, so the two agree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .stages import StageClock


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
    #: indexed files left as they were whose stored metadata a new or changed sidecar changed
    metadata_updated: int = 0
    pruned: int = 0
    #: indexed files no longer on disk (kept; use --prune to remove them)
    missing: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
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
            "skipped": dict(self.skipped),
            "failed": self.failed,
            "count": self.count,
            "seconds": round(self.seconds, 3),
            "images_per_s": round(self.images_per_s, 2),
            "embedded": self.embedded,
            "processed": self.processed,
            "processing_seconds": round(self.processing_seconds, 3),
            "engine": self.engine,
            "stage_seconds": self.clock.to_dict(),
        }
