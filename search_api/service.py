"""What the API needs from the search library, as a :class:`typing.Protocol`.

The application is typed against :class:`SearchService`, not the concrete
:class:`indexer.search.retriever.Retriever`, which implements it (mypy checks that where
``create_app`` opens one). Tests hold their stand-in retriever to the same protocol.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from indexer.encoders.base import EncoderUsage
from indexer.prompts import DEFAULT_TEMPLATE
from indexer.records import GroupListing, ImageRecord, LabelProbability, MetadataValue, SearchResult
from indexer.search.duplicate_threshold import AdaptiveThreshold
from indexer.search.duplicates import DuplicateReport
from indexer.search.info import RetrieverInfo
from indexer.search.query_parts import QueryPart


class QueryEncoder(Protocol):
    """What request handling and the metrics need to know of the encoder."""

    @property
    def draft_size(self) -> int:
        """Shortest side a JPEG upload may be reduced to while decoding."""
        ...

    def usage(self) -> EncoderUsage:
        """Work the model has done so far (for the metrics)."""
        ...


@runtime_checkable
class SearchService(Protocol):
    """Search, classification and image lookup over one index."""

    @property
    def encoder(self) -> QueryEncoder: ...

    def info(self) -> RetrieverInfo:
        """Index size, dimension, encoder, generation, versions."""
        ...

    def get(self, image_id: int) -> ImageRecord:
        """The stored record of an image (:class:`indexer.errors.NotFoundError` if none)."""
        ...

    def original(self, image_id: int) -> Path | bytes:
        """The original of an indexed image, from its source: a local file, or its bytes."""
        ...

    def viewer_links(self, image_ids: Sequence[int]) -> dict[int, str]:
        """Links into the viewer of the images' source, by image id (those that have one)."""
        ...

    def filterable_fields(self) -> list[str]:
        """Every metadata field a filter may name."""
        ...

    def filter_field_kinds(self) -> dict[str, frozenset[str]]:
        """Every metadata field a filter may name, with the kinds of value it holds
        (``text``, ``number``, ``boolean``: :mod:`indexer.storage.filter_values`)."""
        ...

    def facets(
        self, filters: Mapping[str, MetadataValue | Sequence[MetadataValue]] | None = None
    ) -> dict[str, list[tuple[MetadataValue, int]]]:
        """For each filterable field, its most frequent values with their counts; under
        ``filters``, each field counted with the other fields' filters applied."""
        ...

    def search(
        self,
        *,
        text: str | None = None,
        image: Image.Image | None = None,
        vector: Sequence[float] | None = None,
        image_id: int | None = None,
        k: int = 20,
        offset: int = 0,
        filters: Mapping[str, MetadataValue | Sequence[MetadataValue]] | None = None,
        min_score: float | None = None,
        exclude_ids: Collection[int] = (),
        count_facets: bool = False,
        collapse: str | None = None,
        level: str = "image",
        group: MetadataValue = None,
        mode: str = "dense",
        min_relative: float | None = None,
        min_z: float | None = None,
        dedupe: float | None = None,
        parts: Sequence[QueryPart] | None = None,
    ) -> SearchResult:
        """Top-``k`` images after ``offset`` for exactly one query kind; ``count_facets`` adds
        the facet counts under ``filters`` among the images scoring at least ``min_score``;
        with ``collapse``, one result per value of that metadata field; at a group ``level``
        (series, study, group:FIELD) groups, and ``group`` names one to find similar groups;
        ``mode`` keyword or hybrid ranks a text by its words (BM25), or fuses both rankings;
        ``min_relative`` and ``min_z`` cut as :mod:`indexer.search.cutoff` says; ``parts`` is a
        weighted query (:mod:`indexer.search.query_parts`)."""
        ...

    def duplicates(
        self, threshold: float | None = None, across: str | None = None
    ) -> DuplicateReport:
        """Clusters of near-identical images over the index (the adaptive threshold when
        None); with ``across``, only those spanning several values of that field."""
        ...

    def duplicate_threshold(self) -> AdaptiveThreshold:
        """The index's adaptive near-duplicate threshold."""
        ...

    def vectors_for(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of indexed images, float32 ``[len(ids), dim]``."""
        ...

    def group(self, field: str, value: MetadataValue) -> GroupListing:
        """The images whose ``field`` equals ``value``, in slice order."""
        ...

    def classify(
        self,
        labels: Sequence[str],
        *,
        image: Image.Image | None = None,
        image_id: int | None = None,
        template: str = DEFAULT_TEMPLATE,
    ) -> list[LabelProbability]:
        """Zero-shot probabilities of ``labels`` for an image, best first."""
        ...

    def refresh(self) -> bool:
        """Load a newer published index version if there is one; True when it did."""
        ...
