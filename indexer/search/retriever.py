"""One way to search an index, shared by the CLI, the JSON API and the web page.

A :class:`Retriever` holds the encoder, the metadata store and an immutable snapshot of the ANN
index and vector file. :meth:`Retriever.refresh` swaps in a newly published snapshot atomically,
so concurrent searches always see one whole version. A version whose files do not match the
checksums its ``index_info.json`` records (or whose format this MedSearch cannot read) is refused,
once, and the current one goes on being served. The vector file is not hashed whole: its blocks
are checked as rows are read, and in the background in a service
(:mod:`indexer.storage.block_guard`).

Arguments are typed Python values: the JSON API checks the shape of requests (types, sizes,
ranges) before they get here (``search_api/params.py``). The Retriever checks what only it
knows (the vector's dimension, that an image id exists, that a filter field is known) and the
few preconditions without which it cannot answer: one query, something to embed, a page that
starts at 0 or later with at least one result, and the template rule of :mod:`indexer.prompts`.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..encoders import Encoder, encoder_from_settings
from ..errors import InvalidRequestError, MedSearchError, NotFoundError
from ..id_sets import in_sorted
from ..prompts import DEFAULT_TEMPLATE, check_template, fill_template
from ..query_cache import QueryCache
from ..records import (
    Facets,
    GroupListing,
    ImageRecord,
    LabelProbability,
    MetadataValue,
    SearchResult,
)
from ..settings import Settings
from ..sources.base import CorpusSource
from ..sources.registry import indexed_source
from ..storage.block_guard import BlockCheckState
from ..storage.filters import Filters
from ..storage.folder import IndexFolder, require_same_encoder
from ..storage.info import EncoderRecord
from ..storage.metadata_db import Store
from . import keywords, levels
from .calibration import index_calibration
from .cutoff import CutOff, cut_count, null_for, query_kind, with_standing
from .duplicate_finder import DuplicateFinder
from .duplicate_threshold import AdaptiveThreshold
from .duplicates import DuplicateReport
from .group_search import GroupSearch
from .image_search import ImageSearch, hits_of
from .info import RetrieverInfo
from .query_parts import QueryPart, excluded_ids, judged_as
from .query_vectors import QueryEmbedder
from .snapshot import Snapshot

#: image ids the results of recent score cut-offs may hold in memory together (8 bytes each)
_FLOOR_CACHE_IDS = 4_000_000


class Retriever:
    """Search by text, image, vector or indexed id, with filters, offset and a score floor."""

    def __init__(
        self,
        settings: Settings,
        encoder: Encoder,
        store: Store,
        folder: IndexFolder,
        snapshot: Snapshot | None = None,
    ):
        self.settings = settings
        self.encoder = encoder
        self.store = store
        self.folder = folder
        self._lock = threading.Lock()
        self._check_in_background = False
        self._snapshot = snapshot if snapshot is not None else Snapshot.load(folder, None)
        #: mtime of an index_info.json that could not be loaded, not to be tried again
        self._rejected_mtime: float | None = None
        self._queries = QueryEmbedder(encoder, store, self.vectors_for)
        #: the images recent queries score above their cut-offs (facet counts under a score)
        self._floor_cache: QueryCache[np.ndarray] = QueryCache(_FLOOR_CACHE_IDS, weigh=len)
        self._last_check = time.monotonic()

    @classmethod
    def open(
        cls,
        settings: Settings,
        encoder: Encoder | None = None,
        *,
        encoders: dict[str, Encoder] | None = None,
    ) -> Retriever:
        """Open the index in ``settings.index_dir`` with the encoder it was built with:
        ``encoder``, else the one ``encoders`` (loaded encoders by fingerprint, shared by the
        indexes of a service) holds for it, else the model the index records, loaded while the
        index version loads and added to ``encoders``."""
        folder = IndexFolder(settings.index_dir)
        info = folder.read_info()
        recorded = info.encoder
        if encoder is None and encoders is not None:
            encoder = encoders.get(recorded.fingerprint)
        snapshot = None
        if encoder is None:
            # both mostly read files and run native code, so they share the start-up time
            with ThreadPoolExecutor(1, thread_name_prefix="load index") as pool:
                loading = pool.submit(Snapshot.load, folder, None)
                encoder = load_recorded_encoder(recorded, settings)
                snapshot = loading.result()
            if encoders is not None:
                encoders[recorded.fingerprint] = encoder
        require_same_encoder(info, encoder.fingerprint, encoder.model_ref, folder.path)
        return cls(settings, encoder, folder.open_store(), folder, snapshot)

    # -- snapshots -----------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Load a newer published index version if there is one; True when it did.

        A version that cannot be loaded (damaged, unknown format) raises its error once and is
        not tried again until ``index_info.json`` changes; the current version stays.
        """
        try:
            mtime = self.folder.info_path.stat().st_mtime
        except FileNotFoundError:
            return False
        if mtime in (self._snapshot.info_mtime, self._rejected_mtime):
            return False
        with self._lock:
            current = self._snapshot
            if mtime in (current.info_mtime, self._rejected_mtime):
                return False
            try:
                fresh = Snapshot.load(self.folder, current)
            except MedSearchError:
                self._rejected_mtime = mtime
                raise
            if fresh.info.generation == current.info.generation:
                fresh.vectors.stop_checks()
                self._snapshot = dataclasses.replace(current, info_mtime=fresh.info_mtime)
                return False
            current.vectors.stop_checks()
            self._snapshot = fresh
            if self._check_in_background:
                fresh.vectors.check_in_background()
            return True

    def check_vectors_in_background(self) -> None:
        """Check the served version's vector blocks not read yet in a background thread, and
        those of every version loaded later (:mod:`indexer.storage.block_guard`)."""
        self._check_in_background = True
        self._snapshot.vectors.check_in_background()

    def vector_check(self) -> BlockCheckState | None:
        """How far the check of the served vector file's blocks is, and the damage it found
        (None: the version records no block digests, its rows were hashed whole at load)."""
        guard = self._snapshot.vectors.guard
        return guard.state() if guard is not None else None

    # -- facts ---------------------------------------------------------------------------------

    def info(self) -> RetrieverInfo:
        """The served version's facts and how this retriever's encoder runs."""
        device, precision = str(self.encoder.device), self.encoder.precision
        return RetrieverInfo.of(
            self._snapshot.info,
            device=device,
            precision=precision,
            runtime=self.encoder.runtime,
            fidelity=self.encoder.fidelity_record(),
        )

    def get(self, image_id: int) -> ImageRecord:
        return self.store.get(image_id)

    def original(self, image_id: int) -> Path | bytes:
        """The original of an indexed image, from the source it was indexed from: a local file,
        or its bytes (:class:`NotFoundError` when the source no longer has it)."""
        record = self.store.get(image_id)
        return self.source.original(record.path, self.store.identifiers(image_id))

    def viewer_links(self, image_ids: Sequence[int]) -> dict[int, str]:
        """Links into the viewer of the images' source, by image id (one read for the page);
        images without one are left out."""
        return self.source.viewer_links(self.store.identifiers_of(image_ids))

    @functools.cached_property
    def source(self) -> CorpusSource:
        """Where the indexed images come from (an index keeps its corpus for good)."""
        return indexed_source(self._snapshot.info.corpus_root, self.settings)

    def filterable_fields(self) -> list[str]:
        return self.store.filterable_fields()

    def filter_field_kinds(self) -> dict[str, frozenset[str]]:
        return self.store.filter_field_kinds()

    def facets(self, filters: Filters | None = None) -> Facets:
        """Values of every field with their counts; under ``filters``, each field counted with
        the other fields' filters applied."""
        return self.store.facets(filters=filters)

    def ids_scoring_at_least(self, query: np.ndarray, min_score: float) -> np.ndarray:
        """Ids of every image whose score for the unit vector ``query`` is at least
        ``min_score``, sorted: exact, whatever the index type.

        An index whose range search looks at every whole vector (flat, ivf) answers it; the
        approximate and compressed types would miss images or misjudge scores near the cut-off,
        so their images are scored from the stored vectors, a block at a time.
        """
        snapshot = self._snapshot
        key = (snapshot.info.generation, query.tobytes(), float(min_score))
        return self._floor_cache.get_or_compute(
            key, lambda: snapshot.ids_scoring_at_least(query, min_score)
        )

    def group(self, field: str, value: MetadataValue) -> GroupListing:
        """The images whose ``field`` equals ``value``, in slice order (:class:`NotFoundError`
        when none does, :class:`InvalidRequestError` for an unknown field)."""
        return self.store.groups.members(field, value)

    def duplicates(
        self, threshold: float | None = None, across: str | None = None
    ) -> DuplicateReport:
        """Clusters of near-identical images (:mod:`indexer.search.duplicates`)."""
        return self._duplicate_finder.report(threshold, across)

    def duplicate_threshold(self) -> AdaptiveThreshold:
        """The index's adaptive near-duplicate threshold."""
        return self._duplicate_finder.threshold()

    @functools.cached_property
    def _duplicate_finder(self) -> DuplicateFinder:
        return DuplicateFinder(self.folder, self.store)

    def vectors_for(self, ids: Sequence[int]) -> np.ndarray:
        """Stored (float16-rounded) vectors of indexed images, float32 [n, dim]."""
        return self._snapshot.vectors.read(np.asarray(ids, dtype=np.int64))

    # -- search --------------------------------------------------------------------------------

    def search(
        self,
        *,
        text: str | None = None,
        image: Image.Image | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        image_id: int | None = None,
        k: int = 20,
        offset: int = 0,
        filters: Filters | None = None,
        min_score: float | None = None,
        exclude_ids: Collection[int] = (),
        count_facets: bool = False,
        collapse: str | None = None,
        level: str = levels.IMAGE_LEVEL,
        group: MetadataValue = None,
        mode: str = keywords.DENSE,
        min_relative: float | None = None,
        min_z: float | None = None,
        dedupe: float | None = None,
        parts: Sequence[QueryPart] | None = None,
    ) -> SearchResult:
        """Top-``k`` images after ``offset``, best first. Exactly one query kind is given; an
        ``image_id`` query leaves that image out of the results. ``count_facets`` adds the
        facet counts under ``filters`` among every image the query scores at least
        ``min_score`` (all images without one), the excluded ones left out.

        With ``collapse``, one result per value of that metadata field: ``k`` and ``offset``
        count groups, ``total`` is the number of groups of the eligible images, and each hit
        carries its group (:mod:`indexer.search.collapse`).

        At a group ``level`` (series, study, group:FIELD) the results are groups ranked by their
        mean vectors (:mod:`indexer.search.levels`); ``group``, a group's value, is then a query
        kind too: the groups most similar to that one, itself first. ``collapse`` then keeps the
        best group per value of that field ("the best series of each study").

        ``parts``, weighted texts, images, ids and vectors, is a query kind of its own
        (:mod:`indexer.search.query_parts`); the images it names are left out of the results.

        ``mode`` keyword ranks by BM25 over the images' words, hybrid fuses that ranking with
        the dense one (:mod:`indexer.search.keywords`); both take a ``text`` query alone, and
        neither takes ``min_relative`` or ``min_z``.

        Each hit carries its ``z`` and ``percentile`` against the index's null distribution;
        ``min_relative`` and ``min_z`` cut as :mod:`indexer.search.cutoff` says, and
        ``below_cut_off`` counts the results of the page a cut-off removed.

        Of a search of images, exact copies (the same sha256) are folded into the best of them,
        and with ``dedupe`` so are results within that cosine of a higher-ranked one; each
        result lists its ``copies`` (:mod:`indexer.search.dedupe`). Collapsed and group level
        results, one per group already, are not folded.
        """
        started = time.perf_counter()
        self._snapshot.vectors.refuse_if_damaged()
        if k < 1:
            raise InvalidRequestError("k must be at least 1")
        if offset < 0:
            raise InvalidRequestError("offset must be at least 0")
        alone = all(query is None for query in (image, vector, image_id, group, parts))
        keywords.check_mode(mode, text=text, alone=alone, level=level)
        if mode != keywords.DENSE:
            if min_relative is not None or min_z is not None:
                raise InvalidRequestError(f"mode {mode} takes no min_relative or min_z")
            assert text is not None  # check_mode requires it
            unwanted = np.asarray(sorted({int(i) for i in exclude_ids}), dtype=np.int64)
            return self._search_words(
                keywords.WordRequest(
                    mode, text, k, offset, filters, min_score, unwanted, count_facets, collapse
                )
            )
        cut = CutOff(min_score, min_relative, min_z)
        null = null_for(
            self._snapshot.null,
            judged_as(parts)
            if parts
            else query_kind(text=text, image=image, vector=vector, image_id=image_id, group=group),
        )
        if collapse is not None:
            self.store.groups.check_field(collapse)
        if level != levels.IMAGE_LEVEL or group is not None:
            queries = {
                "text": text,
                "image": image,
                "vector": vector,
                "image_id": image_id,
                "parts": parts,
            }
            request = levels.GroupRequest(
                k, offset, self.store.ids_matching(filters) if filters else None, None
            )
            at_level = GroupSearch(self.store, self._snapshot, self._queries.embed, cut, null)
            return at_level.run(level, group, queries, request, filters, started, collapse)
        query = self._queries.embed(
            text=text, image=image, vector=vector, image_id=image_id, parts=parts
        )
        embedded = time.perf_counter()
        snapshot = self._snapshot
        allowed = self.store.ids_matching(filters) if filters else None
        total = snapshot.index.ntotal if allowed is None else len(allowed)
        # an image is not similar to itself: the query image is never one of the results
        excluded = {*exclude_ids, *([image_id] if image_id is not None else [])}
        excluded.update(excluded_ids(parts))
        exclude = np.asarray(sorted({int(i) for i in excluded}), dtype=np.int64)
        search = ImageSearch(self.store, snapshot, query, allowed, exclude)
        min_score = cut.floor(search.best_score, null)
        search = dataclasses.replace(search, min_score=min_score)
        if collapse is not None:
            hits, total = search.collapsed(collapse, k, offset, total, filters)
        else:
            hits = search.folded(k, offset, dedupe, total, self.ids_scoring_at_least)
        # a filter value in the wrong case is the usual reason for finding nothing
        suggestions = self.store.case_variants(filters) if filters and not total else {}
        searched = time.perf_counter()
        timings = {"embed": (embedded - started) * 1000, "search": (searched - embedded) * 1000}
        facets = None
        if count_facets:
            facets = self._facets_scoring(query, filters, min_score, exclude)
            timings["facets"] = (time.perf_counter() - searched) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        left_out = len(exclude) if allowed is None else int(in_sorted(exclude, allowed).sum())
        below = cut_count(cut, k=k, offset=offset, available=total - left_out, shown=len(hits))
        hits = with_standing(hits, null)
        return SearchResult(hits, total, timings, suggestions, facets, below)

    def _search_words(self, request: keywords.WordRequest) -> SearchResult:
        """A keyword or hybrid search (:mod:`indexer.search.keywords`)."""
        if request.collapse is not None:
            self.store.groups.check_field(request.collapse)
        snapshot = self._snapshot

        def dense_top(want: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
            return snapshot.top(self.embed_text(request.text), want, allowed)

        return keywords.search(
            self.store, request, dense_top, functools.partial(hits_of, self.store)
        )

    def _facets_scoring(
        self,
        query: np.ndarray,
        filters: Filters | None,
        min_score: float | None,
        exclude: np.ndarray,
    ) -> Facets:
        """The facets under ``filters`` among the images scoring at least ``min_score``."""
        if min_score is None:
            return self.store.facets(filters=filters)
        above = self.ids_scoring_at_least(query, min_score)
        return self.store.facets(filters=filters, within=np.setdiff1d(above, exclude))

    def embed_text(self, text: str) -> np.ndarray:
        """The unit vector of a text query (recent queries are cached)."""
        return self._queries.embed_text(text)

    def embed_image(self, image: Image.Image) -> np.ndarray:
        """The unit vector of an image query (cached by the model input it becomes)."""
        return self._queries.embed_image(image)

    def check_vector(self, vector: Sequence[float] | np.ndarray) -> np.ndarray:
        """The query vector scaled to unit length; it must fit this index's encoder."""
        return self._queries.check_vector(vector)

    # -- zero-shot classification --------------------------------------------------------------

    def classify(
        self,
        labels: Sequence[str],
        *,
        image: Image.Image | None = None,
        image_id: int | None = None,
        template: str = DEFAULT_TEMPLATE,
    ) -> list[LabelProbability]:
        """Probabilities of candidate labels for an image, as in the model card's example.

        Each label is put in ``template`` by :func:`indexer.prompts.fill_template`.
        """
        if not labels:
            raise InvalidRequestError("labels must be a non-empty list of strings")
        check_template(template)
        if (image is None) == (image_id is None):
            raise InvalidRequestError("give exactly one of image, image_id")
        query = self._queries.embed(text=None, image=image, vector=None, image_id=image_id)
        label_vectors = self.encoder.encode_texts([fill_template(template, lbl) for lbl in labels])
        cosines = label_vectors @ query
        probs = self.encoder.label_probabilities(cosines[np.newaxis, :])[0]
        ranked = sorted(
            zip(labels, probs.tolist(), cosines.tolist(), strict=True), key=lambda t: -t[1]
        )
        return [LabelProbability(lbl, float(p), float(c)) for lbl, p, c in ranked]

    def close(self) -> None:
        self._snapshot.vectors.stop_checks()
        self.store.close()


__all__ = ["Retriever", "NotFoundError"]


def load_recorded_encoder(recorded: EncoderRecord, settings: Settings) -> Encoder:
    """Load the model an index records, with the device, precision and trust of ``settings``."""
    return encoder_from_settings(
        settings, recorded.model, compile_images=False, calibration=index_calibration(settings)
    )
