"""What the user asks of an evaluation (:class:`EvalOptions`), and the progress bars it shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..settings import Settings

#: the fields read when the user names none; a task needing one the index lacks is skipped
DEFAULT_LABEL_FIELD = "label"
DEFAULT_CAPTION_FIELD = "caption"
#: the field naming each DICOM image's series: image -> image leaves the query's own series out
SERIES_FIELD = "series_key"


@dataclass(frozen=True)
class EvalOptions:
    """The fields to read, the interval settings, and how the encoders load.

    ``label_field`` and ``caption_field`` left None read the default fields, and the tasks that
    need them are skipped on an index that lacks them; a field named here must exist.
    """

    label_field: str | None = None
    group_field: str | None = None
    #: rank groups of this field instead of images (:func:`.scoring.collapsed`)
    collapse: str | None = None
    #: leave the query's own series (:data:`SERIES_FIELD`) out of image -> image where the
    #: index has that field
    exclude_own_series: bool = True
    #: leakage-free image -> image also leaves out the query's near-duplicate cluster at this
    #: cosine (:func:`indexer.search.duplicates.cluster_codes`); None: it does not
    exclude_duplicates: float | None = None
    caption_field: str | None = None
    by: str | None = None
    queries: Path | None = None
    bootstrap: int = 1000
    seed: int = 0
    served: bool = False
    #: the units retrieved: images, or groups (series, study, group:FIELD; see .levels)
    level: str = "image"
    #: how text -> image ranks: dense, keyword, hybrid, each a task of its own (.tasks.text_modes)
    modes: tuple[str, ...] = ("dense",)
    #: the device, precision and trust in model code the encoders load with
    settings: Settings = field(default_factory=Settings)
    #: None: a progress bar on stderr when it is a terminal
    progress: bool | None = None

    @property
    def label_field_used(self) -> str:
        return self.label_field or DEFAULT_LABEL_FIELD

    @property
    def caption_field_used(self) -> str:
        return self.caption_field or DEFAULT_CAPTION_FIELD


def progress_bar(options: EvalOptions, description: str, total: int | None = None) -> tqdm[Any]:
    """A progress bar on stderr (shown as ``options.progress`` says)."""
    disable = None if options.progress is None else not options.progress
    return tqdm(total=total, desc=description, unit="q", leave=False, disable=disable)
