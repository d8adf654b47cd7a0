"""Plain result types shared by the library and every front end (no torch, faiss or SQL here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: metadata values are JSON scalars
MetadataValue = str | int | float | bool | None


class InstanceUIDs(NamedTuple):
    """What a DICOMweb service needs to retrieve an instance again (Study, Series and SOP
    Instance UIDs), recorded apart from the image rows so that no UID reaches a search result."""

    study_uid: str
    series_uid: str
    sop_uid: str


@dataclass(frozen=True)
class ImageRecord:
    """One indexed image as stored in the metadata database."""

    id: int
    path: str  # relative to the corpus root, POSIX separators
    sha256: str
    size: int
    mtime: float
    width: int
    height: int
    format: str
    modality: str | None
    caption: str | None
    extra: dict[str, MetadataValue] = field(default_factory=dict)

    def metadata(self) -> dict[str, MetadataValue]:
        """All filterable fields of the image in one flat mapping."""
        meta: dict[str, MetadataValue] = {
            "format": self.format,
            "modality": self.modality,
            "width": self.width,
            "height": self.height,
        }
        meta.update(self.extra)
        return meta

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "mtime": self.mtime,
            "caption": self.caption,
            "metadata": self.metadata(),
        }


@dataclass(frozen=True)
class Hit:
    """One search result."""

    id: int
    score: float
    path: str
    caption: str | None
    metadata: dict[str, MetadataValue]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": self.score,
            "path": self.path,
            "caption": self.caption,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class SearchResult:
    """Hits best first, how many images the filters allowed, and where the time went."""

    hits: list[Hit]
    #: images eligible under the filters (the whole index when unfiltered)
    total: int
    #: "embed", "search", "total" in milliseconds
    timings_ms: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [h.to_dict() for h in self.hits],
            "total": self.total,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }


@dataclass(frozen=True)
class LabelProbability:
    """Zero-shot probability of one candidate label."""

    label: str
    probability: float
    #: cosine similarity between the image and the templated label text
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "probability": self.probability, "score": self.score}
