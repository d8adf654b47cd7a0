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
import hashlib
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import ann
from ..encoders import Encoder, encoder_from_settings
from ..errors import IndexCorruptError, InvalidRequestError, MedSearchError, NotFoundError
from ..prompts import DEFAULT_TEMPLATE, check_template, fill_template
from ..query_cache import QueryCache
from ..records import (
    Facets,
    GroupListing,
    GroupSummary,
    Hit,
    ImageRecord,
    LabelProbability,
    MetadataValue,
    SearchResult,
)
from ..settings import Settings
from ..sources.base import CorpusSource
from ..sources.registry import indexed_source
from ..storage.block_digests import guard_of
from ..storage.block_guard import BlockCheckState
from ..storage.checksums import PrefixDigest
from ..storage.folder import VECTORS_FILE, IndexFolder, require_same_encoder
from ..storage.group_files import PublishedGroups, load_groups
from ..storage.info import EncoderRecord, IndexInfo
from ..storage.metadata_db import Store
from ..storage.null_scores import NullSample, NullScores, load_null_scores
from ..storage.vectors import VectorFile
from . import keywords, levels
from .collapse import GroupScorer, collapsed_ranking, matches
from .cutoff import CutOff, cut_count, null_for, query_kind, with_standing
from .info import RetrieverInfo

#: filtered searches over at most this many images are exact brute force over the raw vectors
BRUTE_FORCE_MAX = 50_000
_TEXT_CACHE_SIZE = 1024
_IMAGE_CACHE_SIZE = 256
#: image ids the results of recent score cut-offs may hold in memory together (8 bytes each)
_FLOOR_CACHE_IDS = 4_000_000

Filters = Mapping[str, MetadataValue | Sequence[MetadataValue]]


@dataclass(frozen=True)
class _Snapshot:
    info: IndexInfo
    index: ann.AnnIndex
    vectors: VectorFile
    info_mtime: float
    #: digest of the published rows of the vector file (None when the info records no checksum)
    vectors_digest: PrefixDigest | None
    #: the group vectors of each group field (series_key, study_key, case ...)
    groups: Mapping[str, PublishedGroups]
    #: the scores unrelated queries get (None: a version published before they were measured)
    null: NullScores | None = None


class Retriever:
    """Search by text, image, vector or indexed id, with filters, offset and a score floor."""

    def __init__(self, settings: Settings, encoder: Encoder, store: Store, folder: IndexFolder):
        self.settings = settings
        self.encoder = encoder
        self.store = store
        self.folder = folder
        self._lock = threading.Lock()
        self._check_in_background = False
        self._snapshot = self._load_snapshot(None)
        #: mtime of an index_info.json that could not be loaded, not to be tried again
        self._rejected_mtime: float | None = None
        self._text_cache: QueryCache[np.ndarray] = QueryCache(_TEXT_CACHE_SIZE)
        self._image_cache: QueryCache[np.ndarray] = QueryCache(_IMAGE_CACHE_SIZE)
        #: the images recent queries score above their cut-offs (facet counts under a score)
        self._floor_cache: QueryCache[np.ndarray] = QueryCache(_FLOOR_CACHE_IDS, weigh=len)
        self._last_check = time.monotonic()

    @classmethod
    def open(cls, settings: Settings, encoder: Encoder | None = None) -> Retriever:
        """Open the index in ``settings.index_dir`` with the encoder it was built with."""
        folder = IndexFolder(settings.index_dir)
        info = folder.read_info()
        recorded = info.encoder
        if encoder is None:
            encoder = load_recorded_encoder(recorded, settings)
        require_same_encoder(info, encoder.fingerprint, encoder.model_ref, folder.path)
        return cls(settings, encoder, folder.open_store(), folder)

    # -- snapshots -----------------------------------------------------------------------------

    def _load_snapshot(self, previous: _Snapshot | None) -> _Snapshot:
        """The published version, its files checked against the checksums its info records
        (the vector rows ``previous`` checked already are not read again)."""
        mtime = self.folder.info_path.stat().st_mtime
        info = self.folder.read_info()
        if not self.folder.faiss_path.is_file():
            raise IndexCorruptError(
                f"{self.folder.path} has no {self.folder.faiss_path.name} yet: the first "
                "`medsearch index` run did not finish; run it again"
            )
        recorded = info.checksums
        guard = guard_of(self.folder, info, previous.vectors.guard if previous else None)
        vectors = VectorFile(self.folder.vectors_path, info.dim, guard)
        index = ann.load_published(self.folder, info, vectors=vectors)
        digest = None
        if guard is None and VECTORS_FILE in recorded and info.vector_rows is not None:
            start = previous.vectors_digest if previous is not None else None
            digest = vectors.checked_digest(info.vector_rows, recorded[VECTORS_FILE], start)
        groups = {field: load_groups(self.folder, info, field) for field in info.group_fields or ()}
        null = load_null_scores(self.folder, info)
        return _Snapshot(info, index, vectors, mtime, digest, groups, null)

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
                fresh = self._load_snapshot(current)
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
        return RetrieverInfo.of(self._snapshot.info, device=device, precision=precision)

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
            key, lambda: _ids_scoring_at_least(snapshot, query, min_score)
        )

    def group(self, field: str, value: MetadataValue) -> GroupListing:
        """The images whose ``field`` equals ``value``, in slice order (:class:`NotFoundError`
        when none does, :class:`InvalidRequestError` for an unknown field)."""
        return self.store.groups.members(field, value)

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

        ``mode`` keyword ranks by BM25 over the images' words, hybrid fuses that ranking with
        the dense one (:mod:`indexer.search.keywords`); both take a ``text`` query alone, and
        neither takes ``min_relative`` or ``min_z``.

        Each hit carries its ``z`` and ``percentile`` against the index's null distribution;
        ``min_relative`` and ``min_z`` cut as :mod:`indexer.search.cutoff` says, and
        ``below_cut_off`` counts the results of the page a cut-off removed.
        """
        started = time.perf_counter()
        self._snapshot.vectors.refuse_if_damaged()
        if k < 1:
            raise InvalidRequestError("k must be at least 1")
        if offset < 0:
            raise InvalidRequestError("offset must be at least 0")
        alone = all(query is None for query in (image, vector, image_id, group))
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
            query_kind(text=text, image=image, vector=vector, image_id=image_id, group=group),
        )
        if collapse is not None:
            self.store.groups.check_field(collapse)
        if level != levels.IMAGE_LEVEL or group is not None:
            queries = {"text": text, "image": image, "vector": vector, "image_id": image_id}
            request = levels.GroupRequest(
                k, offset, self.store.ids_matching(filters) if filters else None, None
            )
            return self._search_groups(
                level, group, queries, request, filters, started, collapse, cut, null
            )
        query = self._embed(text=text, image=image, vector=vector, image_id=image_id)
        embedded = time.perf_counter()
        snapshot = self._snapshot
        allowed = self.store.ids_matching(filters) if filters else None
        total = snapshot.index.ntotal if allowed is None else len(allowed)
        # an image is not similar to itself: the query image is never one of the results
        excluded = {*exclude_ids, *([image_id] if image_id is not None else [])}
        exclude = np.asarray(sorted({int(i) for i in excluded}), dtype=np.int64)
        min_score = cut.floor(lambda: self._best_score(snapshot, query, allowed, exclude), null)
        if collapse is not None:
            search = _Search(snapshot, query, allowed, exclude, min_score)
            hits, total = self._collapsed(search, collapse, k, offset, total, filters)
        else:
            want = k + offset + len(exclude)
            scores, ids = self._top(snapshot, query, want, allowed)
            scores, ids = matches(scores, ids, exclude, min_score)
            hits = self._hits(scores[offset : offset + k], ids[offset : offset + k])
        # a filter value in the wrong case is the usual reason for finding nothing
        suggestions = self.store.case_variants(filters) if filters and not total else {}
        searched = time.perf_counter()
        timings = {"embed": (embedded - started) * 1000, "search": (searched - embedded) * 1000}
        facets = None
        if count_facets:
            facets = self._facets_scoring(query, filters, min_score, exclude)
            timings["facets"] = (time.perf_counter() - searched) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        left_out = len(exclude) if allowed is None else int(np.isin(exclude, allowed).sum())
        below = cut_count(cut, k=k, offset=offset, available=total - left_out, shown=len(hits))
        hits = with_standing(hits, null)
        return SearchResult(hits, total, timings, suggestions, facets, below)

    def _best_score(
        self,
        snapshot: _Snapshot,
        query: np.ndarray,
        allowed: np.ndarray | None,
        exclude: np.ndarray,
    ) -> float | None:
        """The best score of the query's eligible images (None: there is none)."""
        scores, ids = self._top(snapshot, query, 1 + len(exclude), allowed)
        scores, _ = matches(scores, ids, exclude, None)
        return float(scores[0]) if len(scores) else None

    def _search_words(self, request: keywords.WordRequest) -> SearchResult:
        """A keyword or hybrid search (:mod:`indexer.search.keywords`)."""
        if request.collapse is not None:
            self.store.groups.check_field(request.collapse)
        snapshot = self._snapshot

        def dense_top(want: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
            return self._top(snapshot, self.embed_text(request.text), want, allowed)

        return keywords.search(self.store, request, dense_top, self._hits)

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

    def _search_groups(
        self,
        level: str,
        group: MetadataValue,
        queries: dict[str, Any],
        request: levels.GroupRequest,
        filters: Filters | None,
        started: float,
        collapse: str | None,
        cut: CutOff,
        null: NullSample | None,
    ) -> SearchResult:
        """The groups of ``level`` best matching the query, or ``group``'s own vector; with
        ``collapse``, the best group per value of that field of their representative images."""
        snapshot = self._snapshot
        published = levels.groups_of_level(snapshot.groups, level)
        if group is None:
            query = self._embed(**queries)
        else:
            given = [name for name, value in queries.items() if value is not None]
            if given:
                raise InvalidRequestError(
                    f"give exactly one of text, image, image_id, vector, group, not "
                    f"{' and '.join(given)} and group"
                )
            first = levels.group_number(published, group)
            request = dataclasses.replace(request, first=first)
            query = published.table.vectors[first]
        embedded = time.perf_counter()

        def best_score() -> float | None:
            top = dataclasses.replace(request, k=1, offset=0)
            first, _ = levels.rank_groups(published, query, top)
            return first[0][1] if first else None

        request = dataclasses.replace(request, min_score=cut.floor(best_score, null))
        if collapse is None:
            ranked, total = levels.rank_groups(published, query, request)
        else:

            def values_of(ids: list[int]) -> dict[int, MetadataValue]:
                return self.store.groups.values_of(collapse, ids)

            ranked, total = levels.collapse_groups(published, query, request, values_of)
        hits = levels.group_hits(
            published, ranked, query, request, self.store.get_many, snapshot.vectors.read
        )
        suggestions = self.store.case_variants(filters) if filters and not total else {}
        below = cut_count(cut, k=request.k, offset=request.offset, available=total, shown=len(hits))
        return SearchResult(
            with_standing(hits, null), total, _timings(started, embedded), suggestions, None, below
        )

    def _embed(
        self,
        *,
        text: str | None,
        image: Image.Image | None,
        vector: Sequence[float] | np.ndarray | None,
        image_id: int | None,
    ) -> np.ndarray:
        given = [
            n
            for n, v in (
                ("text", text),
                ("image", image),
                ("image_id", image_id),
                ("vector", vector),
            )
            if v is not None
        ]
        if len(given) != 1:
            raise InvalidRequestError(
                "give exactly one of text, image, image_id, vector"
                + (f", not {' and '.join(given)}" if given else "")
            )
        if text is not None:
            return self.embed_text(text)
        if image is not None:
            return self.embed_image(image)
        if vector is not None:
            return self._check_vector(vector)
        assert image_id is not None  # exactly one of the four is set
        self.store.get(image_id)  # NotFoundError for unknown ids
        return self.vectors_for([image_id])[0]

    def embed_text(self, text: str) -> np.ndarray:
        """The unit vector of a text query (recent queries are cached)."""
        if not text.strip():
            raise InvalidRequestError("text must be a non-empty string")
        key = " ".join(text.split())
        return self._text_cache.get_or_compute(key, lambda: self.encoder.encode_texts([key])[0])

    def embed_image(self, image: Image.Image) -> np.ndarray:
        """The unit vector of an image query (cached by the model input the image becomes).

        Keying on the preprocessed pixels rather than the upload's bytes also catches the same
        picture sent again in another file format.
        """
        prepared = self.encoder.prepare(image)
        key = hashlib.blake2b(prepared.tobytes(), digest_size=16).digest()
        return self._image_cache.get_or_compute(
            key, lambda: self.encoder.encode_prepared([prepared])[0]
        )

    def _check_vector(self, vector: Sequence[float] | np.ndarray) -> np.ndarray:
        """The query vector scaled to unit length; it must fit this index's encoder."""
        array = np.asarray(vector, dtype=np.float64)
        dim = self.encoder.dim
        if array.shape != (dim,):
            raise InvalidRequestError(
                f"vector must have {dim} numbers (the index's dimension), got shape {array.shape}"
            )
        largest = float(np.max(np.abs(array)))
        if not np.isfinite(largest) or largest == 0.0:
            raise InvalidRequestError("vector must be finite and not all zeros")
        scaled = array / largest  # first, so that squaring cannot overflow
        return (scaled / np.linalg.norm(scaled)).astype(np.float32)

    def _top(
        self, snapshot: _Snapshot, query: np.ndarray, want: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if snapshot.index.ntotal == 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if allowed is not None and len(allowed) <= BRUTE_FORCE_MAX:
            # a narrow filter is answered exactly from the raw vectors
            return self._exact_top(snapshot, query, want, allowed)
        scores, ids = snapshot.index.search(query[None, :], want, allowed)
        found = ids[0] >= 0
        if allowed is not None and found.sum() < min(want, len(allowed)):
            # the ANN probe saw too few matches: fall back to exact search over the matches
            return self._exact_top(snapshot, query, want, allowed)
        return scores[0][found], ids[0][found]

    @staticmethod
    def _exact_top(
        snapshot: _Snapshot, query: np.ndarray, want: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        # the matches' vectors are read a block at a time, however many images a filter selects
        vectors = snapshot.vectors.rows_of(allowed)
        scores, ids = ann.exact_top_k(vectors, allowed, query[None, :], want)
        return scores[0], ids[0]

    def _collapsed(
        self,
        search: _Search,
        field: str,
        k: int,
        offset: int,
        eligible: int,
        filters: Filters | None,
    ) -> tuple[list[Hit], int]:
        """The page of groups of a collapsed search, and how many groups are eligible."""
        group_total = self.store.groups.count(field, filters)
        wanted = min(k + offset, group_total)
        if wanted == 0 or eligible == 0:
            return [], group_total
        snapshot, query, allowed = search.snapshot, search.query, search.allowed

        def rank_every_image() -> tuple[np.ndarray, np.ndarray]:
            ids = allowed if allowed is not None else self._published_ids(snapshot)
            return self._exact_top(snapshot, query, len(ids), ids)

        groups = collapsed_ranking(
            top=lambda want: self._top(snapshot, query, want, allowed),
            exact=rank_every_image,
            values_of=lambda ids: self.store.groups.values_of(field, ids.tolist()),
            wanted=wanted,
            eligible=eligible,
            exclude=search.exclude,
            min_score=search.min_score,
        )
        scorer = GroupScorer(
            self.store, snapshot.vectors, field, query, allowed, search.exclude, search.min_score
        )
        # a page's groups in the order of their exact best scores (an ANN ranking may have
        # found a group through another of its images)
        best = sorted(scorer.summaries(groups[offset : offset + k]), key=lambda b: -b[1])
        ids = np.asarray([image for image, _, _ in best], dtype=np.int64)
        scores = np.asarray([score for _, score, _ in best], dtype=np.float32)
        hits = self._hits(scores, ids, {image: summary for image, _, summary in best})
        return hits, group_total

    def _published_ids(self, snapshot: _Snapshot) -> np.ndarray:
        """Ids of the indexed images whose vectors the snapshot's vector file holds."""
        ids = self.store.ids()
        rows = snapshot.info.vector_rows
        return ids[ids <= (rows if rows is not None else snapshot.vectors.rows())]

    def _hits(
        self,
        scores: np.ndarray,
        ids: np.ndarray,
        groups: Mapping[int, GroupSummary] | None = None,
    ) -> list[Hit]:
        records = self.store.get_many(ids.tolist())
        return [
            Hit(
                id=int(i),
                score=float(s),
                path=records[int(i)].path,
                caption=records[int(i)].caption,
                metadata=records[int(i)].metadata(),
                group=groups.get(int(i)) if groups is not None else None,
            )
            for s, i in zip(scores, ids, strict=True)
            # an id published in the ANN index but pruned since is skipped
            if int(i) in records
        ]

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
        query = self._embed(text=None, image=image, vector=None, image_id=image_id)
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


def _ids_scoring_at_least(snapshot: _Snapshot, query: np.ndarray, min_score: float) -> np.ndarray:
    index = snapshot.index
    if index.family.exact_range:
        return index.ids_scoring_at_least(query, min_score)
    ids = index.ids()
    return ann.ids_scoring_at_least(snapshot.vectors.rows_of(ids), ids, query, min_score)


@dataclass(frozen=True)
class _Search:
    """What one search ranks: the query, the eligible ids (None: all), those left out."""

    snapshot: _Snapshot
    query: np.ndarray
    allowed: np.ndarray | None
    exclude: np.ndarray
    min_score: float | None


def _timings(started: float, embedded: float) -> dict[str, float]:
    """Milliseconds spent embedding, searching, and in all, of a search that ends now."""
    finished = time.perf_counter()
    return {
        "embed": (embedded - started) * 1000,
        "search": (finished - embedded) * 1000,
        "total": (finished - started) * 1000,
    }


def load_recorded_encoder(recorded: EncoderRecord, settings: Settings) -> Encoder:
    """Load the model an index records, with the device, precision and trust of ``settings``."""
    return encoder_from_settings(settings, recorded.model, compile_images=False)
