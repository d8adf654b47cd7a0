"""Plain result types shared by the library and every front end (no torch, faiss or SQL here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .typed_json import read_record, write_record

#: metadata values are JSON scalars
MetadataValue = str | int | float | bool | None
#: for each filterable field, its most frequent values with their counts
Facets = dict[str, list[tuple[MetadataValue, int]]]


def facets_json(facets: Facets) -> dict[str, list[dict[str, Any]]]:
    """Facet counts as the API answers them: ``{field: [{"value", "count"}, ...]}``."""
    return {
        field: [{"value": value, "count": count} for value, count in values]
        for field, values in facets.items()
    }


class InstanceUIDs(NamedTuple):
    """What a DICOMweb service needs to retrieve an instance again (Study, Series and SOP
    Instance UIDs), recorded apart from the image rows so that no UID reaches a search result."""

    study_uid: str
    series_uid: str
    sop_uid: str


@dataclass(frozen=True)
class EncoderRecord:
    """The encoder an index was built with: vectors of any other encoder cannot join it."""

    #: kind of model, e.g. ``biomedclip``
    name: str
    #: model reference it was loaded from (hub id or folder); opening the index reloads it
    model: str
    #: hash of the weights and configuration; the index accepts only vectors of this fingerprint
    fingerprint: str
    #: length of the embedding vectors
    dim: int
    #: True for a randomly initialised test or benchmark model, whose results mean nothing
    random_weights: bool = False
    #: registry family whose code loads the model (files written before families existed
    #: were all built by open_clip)
    family: str = "open_clip"

    @classmethod
    def from_json(cls, data: object, source: str) -> EncoderRecord:
        """The record in ``data`` (an index info's ``encoder``); ``source`` names the file."""
        return read_record(cls, data, source, "encoder.")

    def to_json(self) -> dict[str, Any]:
        return write_record(self)


#: encoder names that say only which code loaded the model, not which model it is
GENERIC_ENCODER_NAMES = frozenset({"clip", "open_clip"})


def encoder_display_name(name: str, model: str) -> str:
    """``name``, or for a generic name (``clip`` of a PubMedCLIP folder) the model's own name:
    the last part of its folder or Hub id (``pubmed-clip-vit-base-patch32``)."""
    if name not in GENERIC_ENCODER_NAMES:
        return name
    own = model.removeprefix("hf-hub:").rstrip("/").rsplit("/", 1)[-1]
    return own or name


def random_weights_warning(index: object) -> str:
    """The warning every command and page gives about an index embedded by a random-weight
    (test or benchmark) model."""
    return (
        f"WARNING: {index} was embedded by a model with random weights: "
        "its results say nothing about retrieval quality"
    )


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
class GroupMember:
    """One image of a group, with its place in the group's slice order."""

    id: int
    instance_number: int | None
    slice_position: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "instance_number": self.instance_number,
            "slice_position": self.slice_position,
        }


@dataclass(frozen=True)
class GroupListing:
    """A group's images in slice order."""

    field: str
    #: the group's value as stored
    value: MetadataValue
    images: list[GroupMember]

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": self.value,
            "size": len(self.images),
            "images": [image.to_dict() for image in self.images],
        }


@dataclass(frozen=True)
class GroupSummary:
    """The group a collapsed search result stands for (see :mod:`indexer.search.collapse`)."""

    #: the metadata field the search was collapsed on
    field: str
    #: the group's value of it (None: an image without the field, a group of its own)
    value: MetadataValue
    #: images of the index in the group
    size: int
    #: images of the group among the search's matches (filters, exclusions and min_score applied)
    matched: int
    #: the group's next best matches after the result's own image: (id, score), best first
    next: tuple[tuple[int, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": self.value,
            "size": self.size,
            "matched": self.matched,
            "next": [{"id": i, "score": s} for i, s in self.next],
        }


@dataclass(frozen=True)
class Hit:
    """One search result; of a collapsed search, the best image of its ``group``."""

    id: int
    score: float
    path: str
    caption: str | None
    metadata: dict[str, MetadataValue]
    group: GroupSummary | None = None
    #: of a keyword or hybrid search: the query's words the image holds
    matched_terms: tuple[str, ...] | None = None
    #: the score's standing against the scores unrelated queries get on the index (None: the
    #: index records no null distribution for this kind of query; :mod:`indexer.search.cutoff`)
    z: float | None = None
    percentile: float | None = None
    #: results folded into this one, exact copies or near-duplicates: (id, score), best first
    copies: tuple[tuple[int, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "score": self.score,
            "z": self.z,
            "percentile": self.percentile,
            "path": self.path,
            "caption": self.caption,
            "metadata": self.metadata,
        }
        if self.group is not None:
            data["group"] = self.group.to_dict()
        if self.matched_terms is not None:
            data["matched_terms"] = list(self.matched_terms)
        if self.copies:
            data["copies"] = [{"id": i, "score": s} for i, s in self.copies]
        return data


@dataclass(frozen=True)
class SearchResult:
    """Hits best first, how many images the filters allowed, and where the time went."""

    hits: list[Hit]
    #: images eligible under the filters (the whole index when unfiltered); of a collapsed
    #: search, the groups they make
    total: int
    #: "embed", "search", "total" in milliseconds
    timings_ms: dict[str, float]
    #: of an empty result, stored values that differ from a text filter value only in case
    #: (``{"modality": ["CT"]}`` for ``modality=ct``); the key is left out of the JSON when empty
    suggestions: dict[str, list[str]] = field(default_factory=dict)
    #: when asked for: every field's values counted as the facets are under the search's
    #: filters, among the images scoring at least its minimum score
    facets: Facets | None = None
    #: with a cut-off (min_score, min_relative, min_z): the results of this page it removed
    below_cut_off: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "results": [h.to_dict() for h in self.hits],
            "total": self.total,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }
        if self.suggestions:
            data["suggestions"] = self.suggestions
        if self.facets is not None:
            data["facets"] = facets_json(self.facets)
        if self.below_cut_off is not None:
            data["below_cut_off"] = self.below_cut_off
        return data


@dataclass(frozen=True)
class LabelProbability:
    """Zero-shot probability of one candidate label."""

    label: str
    probability: float
    #: cosine similarity between the image and the templated label text
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "probability": self.probability, "score": self.score}
