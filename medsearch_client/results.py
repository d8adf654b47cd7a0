"""Typed answers of the API, as dataclasses read from its JSON.

Each keeps the keys it does not name in ``extra``, so fields the service adds later (options of
newer versions) stay within reach without a new client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

#: a metadata value as the API gives it
Value = str | int | float | bool | None

T = TypeVar("T", bound="FromJson")


class FromJson:
    """A dataclass read from the API's JSON: its named fields, every other key in ``extra``."""

    @classmethod
    def from_json(cls: type[T], data: Mapping[str, Any]) -> T:
        return _read(cls, data)


def _read(cls: type[T], data: Mapping[str, Any], **converted: Any) -> T:
    """An instance of dataclass ``cls`` from ``data``, the ``converted`` fields replaced."""
    names = {f.name for f in fields(cls)} - {"extra"}  # type: ignore[arg-type]
    values = {name: data[name] for name in names if name in data}
    values["extra"] = {key: value for key, value in data.items() if key not in names}
    return cls(**{**values, **converted})


@dataclass(frozen=True)
class Hit(FromJson):
    """One search result: the image, its cosine ``score`` and where to fetch it."""

    id: int
    score: float
    path: str
    caption: str | None = None
    metadata: dict[str, Value] = field(default_factory=dict)
    thumbnail_url: str | None = None
    image_url: str | None = None
    viewer_url: str | None = None
    #: the score's standing against the scores unrelated queries get on the index (None: the
    #: index records none)
    z: float | None = None
    percentile: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchPage(FromJson):
    """One page of results, best first, and how many images the filters allowed."""

    results: list[Hit]
    total: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: of an empty result: stored values differing from a text filter value only in case
    suggestions: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchPage:  # the hits typed too
        return _read(cls, data, results=[Hit.from_json(hit) for hit in data.get("results", [])])


@dataclass(frozen=True)
class ImageRecord(FromJson):
    """Everything the index stores about one image."""

    id: int
    path: str
    sha256: str
    size: int
    mtime: float
    caption: str | None = None
    metadata: dict[str, Value] = field(default_factory=dict)
    thumbnail_url: str | None = None
    image_url: str | None = None
    viewer_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelProbability(FromJson):
    """A zero-shot label: its probability among the candidates and its cosine ``score``."""

    label: str
    probability: float
    score: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FacetValue(FromJson):
    """One value of a metadata field and how many images hold it."""

    value: Value
    count: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexDescription(FromJson):
    """A served index: its name, encoder family and model, vector dimension and size."""

    name: str
    family: str
    model: str
    dim: int
    count: int
    random_weights: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Info(FromJson):
    """An index's size, encoder, generation and the service's version."""

    count: int
    dim: int
    encoder: dict[str, Any]
    version: str
    default_template: str
    failed: int = 0
    index_type: str | None = None
    generation: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def random_weights(self) -> bool:
        """Whether the index was built with a randomly initialised model (meaningless results)."""
        return bool(self.encoder.get("random_weights"))
