"""One way to search an index, shared by the CLI, the JSON API and the web page.

A :class:`Retriever` holds the encoder, the metadata store and an immutable snapshot of the ANN
index and vector file. :meth:`Retriever.refresh` swaps in a newly published snapshot atomically,
so concurrent searches always see one whole version.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import ann
from .encoders import Encoder, load_encoder
from .errors import IndexCorruptError, InvalidRequestError, NotFoundError
from .index_folder import IndexFolder, require_same_encoder
from .index_info import IndexInfo
from .query_cache import QueryCache
from .records import Hit, ImageRecord, LabelProbability, MetadataValue, SearchResult
from .settings import Settings
from .store import Store
from .vector_file import VectorFile

DEFAULT_TEMPLATE = "this is a photo of {}"
MAX_LABELS = 100
#: filtered searches over at most this many images are exact brute force over the raw vectors
BRUTE_FORCE_MAX = 50_000
_TEXT_CACHE_SIZE = 1024
_IMAGE_CACHE_SIZE = 256

Filters = Mapping[str, MetadataValue | Sequence[MetadataValue]]


@dataclass(frozen=True)
class _Snapshot:
    info: IndexInfo
    index: ann.AnnIndex
    vectors: VectorFile
    info_mtime: float


class Retriever:
    """Search by text, image, vector or indexed id, with filters, offset and a score floor."""

    def __init__(self, settings: Settings, encoder: Encoder, store: Store, folder: IndexFolder):
        self.settings = settings
        self.encoder = encoder
        self.store = store
        self.folder = folder
        self._lock = threading.Lock()
        self._snapshot = self._load_snapshot()
        self._text_cache = QueryCache(_TEXT_CACHE_SIZE)
        self._image_cache = QueryCache(_IMAGE_CACHE_SIZE)
        self._last_check = time.monotonic()

    @classmethod
    def open(cls, settings: Settings, encoder: Encoder | None = None) -> Retriever:
        """Open the index in ``settings.index_dir`` with the encoder it was built with."""
        folder = IndexFolder(settings.index_dir)
        info = folder.read_info()
        recorded = info.encoder
        if encoder is None:
            encoder = load_encoder(
                recorded.model, device=settings.device, precision=settings.precision
            )
        require_same_encoder(info, encoder.fingerprint, encoder.model_ref, folder.path)
        return cls(settings, encoder, folder.open_store(), folder)

    # -- snapshots -----------------------------------------------------------------------------

    def _load_snapshot(self) -> _Snapshot:
        mtime = self.folder.info_path.stat().st_mtime
        info = self.folder.read_info()
        if not self.folder.faiss_path.is_file():
            raise IndexCorruptError(
                f"{self.folder.path} has no {self.folder.faiss_path.name} yet: the first "
                "`medsearch index` run did not finish; run it again"
            )
        index = ann.load(self.folder.faiss_path, info.search_param)
        return _Snapshot(info, index, self.folder.vector_file(info.dim), mtime)

    def refresh(self) -> bool:
        """Load a newer published index version if there is one; True when it did."""
        try:
            mtime = self.folder.info_path.stat().st_mtime
        except FileNotFoundError:
            return False
        if mtime == self._snapshot.info_mtime:
            return False
        with self._lock:
            current = self._snapshot
            if mtime == current.info_mtime:
                return False
            fresh = self._load_snapshot()
            if fresh.info.generation == current.info.generation:
                return False
            self._snapshot = fresh
            return True

    # -- facts ---------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        info = self._snapshot.info
        return {
            "count": info.count,
            "failed": info.failed,
            "dim": info.dim,
            "index_type": info.index_type,
            "metric": info.metric,
            "encoder": {
                **info.encoder.to_json(),
                "device": str(self.encoder.device),
                "precision": self.encoder.precision,
            },
            "generation": info.generation,
            "created_at": info.created_at,
            "updated_at": info.updated_at,
            "versions": dict(info.versions),
        }

    def get(self, image_id: int) -> ImageRecord:
        return self.store.get(image_id)

    def source_path(self, image_id: int) -> Path:
        """Absolute path of the original file of an indexed image."""
        record = self.store.get(image_id)
        return self._snapshot.info.corpus_path() / record.path

    def filterable_fields(self) -> list[str]:
        return self.store.filterable_fields()

    def facets(self) -> dict[str, list[tuple[MetadataValue, int]]]:
        return self.store.facets()

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
    ) -> SearchResult:
        """Top-``k`` images after ``offset``, best first. Exactly one query kind is given."""
        started = time.perf_counter()
        self._check_paging(k, offset, min_score)
        query = self._embed(text=text, image=image, vector=vector, image_id=image_id)
        embedded = time.perf_counter()
        snapshot = self._snapshot
        allowed = self.store.ids_matching(filters) if filters else None
        total = snapshot.index.ntotal if allowed is None else len(allowed)
        exclude = np.asarray(sorted({int(i) for i in exclude_ids}), dtype=np.int64)
        want = k + offset + len(exclude)
        scores, ids = self._top(snapshot, query, want, allowed)
        hits = self._hits(scores, ids, exclude, offset, k, min_score)
        finished = time.perf_counter()
        timings = {
            "embed": (embedded - started) * 1000,
            "search": (finished - embedded) * 1000,
            "total": (finished - started) * 1000,
        }
        return SearchResult(hits=hits, total=total, timings_ms=timings)

    def _check_paging(self, k: Any, offset: Any, min_score: Any) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.settings.max_k:
            raise InvalidRequestError(f"k must be an integer from 1 to {self.settings.max_k}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidRequestError("offset must be an integer >= 0")
        if min_score is not None and (
            isinstance(min_score, bool)
            or not isinstance(min_score, (int, float))
            or not math.isfinite(min_score)
        ):
            raise InvalidRequestError("min_score must be a finite number")

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
                ("vector", vector),
                ("image_id", image_id),
            )
            if v is not None
        ]
        if len(given) != 1:
            raise InvalidRequestError(
                "give exactly one of text, image, vector or image_id"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if text is not None:
            return self.embed_text(text)
        if image is not None:
            return self.embed_image(image)
        if image_id is not None:
            if isinstance(image_id, bool) or not isinstance(image_id, int):
                raise InvalidRequestError("image_id must be an integer")
            self.store.get(image_id)  # NotFoundError for unknown ids
            return self.vectors_for([image_id])[0]
        return self._check_vector(vector)

    def embed_text(self, text: str) -> np.ndarray:
        """The unit vector of a text query (recent queries are cached)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequestError("text must be a non-empty string")
        key = " ".join(text.split())
        return self._text_cache.get_or_embed(key, lambda: self.encoder.encode_texts([key])[0])

    def embed_image(self, image: Image.Image) -> np.ndarray:
        """The unit vector of an image query (cached by the model input the image becomes).

        Keying on the preprocessed pixels rather than the upload's bytes also catches the same
        picture sent again in another file format.
        """
        prepared = self.encoder.prepare(image)
        key = hashlib.blake2b(prepared.tobytes(), digest_size=16).digest()
        return self._image_cache.get_or_embed(
            key, lambda: self.encoder.encode_prepared([prepared])[0]
        )

    def _check_vector(self, vector: Any) -> np.ndarray:
        try:
            array = np.asarray(vector, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError("vector must be a list of numbers") from exc
        dim = self.encoder.dim
        if array.shape != (dim,):
            raise InvalidRequestError(f"vector must have {dim} numbers, got shape {array.shape}")
        norm = float(np.linalg.norm(array))
        if not np.all(np.isfinite(array)) or norm == 0.0:
            raise InvalidRequestError("vector must be finite and not all zeros")
        return array / norm

    def _top(
        self, snapshot: _Snapshot, query: np.ndarray, want: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if snapshot.index.ntotal == 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if allowed is not None and len(allowed) <= BRUTE_FORCE_MAX:
            # a narrow filter is answered exactly from the raw vectors
            vectors = snapshot.vectors.read(allowed)
            scores, ids = ann.exact_top_k(vectors, allowed, query[None, :], want)
            return scores[0], ids[0]
        scores, ids = snapshot.index.search(query[None, :], want, allowed)
        found = ids[0] >= 0
        if allowed is not None and found.sum() < min(want, len(allowed)):
            # the ANN probe saw too few matches: fall back to exact search over the matches
            vectors = snapshot.vectors.read(allowed)
            exact_scores, exact_ids = ann.exact_top_k(vectors, allowed, query[None, :], want)
            return exact_scores[0], exact_ids[0]
        return scores[0][found], ids[0][found]

    def _hits(
        self,
        scores: np.ndarray,
        ids: np.ndarray,
        exclude: np.ndarray,
        offset: int,
        k: int,
        min_score: float | None,
    ) -> list[Hit]:
        keep = ~np.isin(ids, exclude)
        scores, ids = scores[keep], ids[keep]
        if min_score is not None:
            keep = scores >= min_score
            scores, ids = scores[keep], ids[keep]
        scores, ids = scores[offset : offset + k], ids[offset : offset + k]
        records = self.store.get_many(ids.tolist())
        return [
            Hit(
                id=int(i),
                score=float(s),
                path=records[int(i)].path,
                caption=records[int(i)].caption,
                metadata=records[int(i)].metadata(),
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
        """Probabilities of candidate labels for an image, as in the model card's example."""
        if isinstance(labels, str) or not isinstance(labels, Sequence) or not labels:
            raise InvalidRequestError("labels must be a non-empty list of strings")
        if len(labels) > MAX_LABELS:
            raise InvalidRequestError(f"at most {MAX_LABELS} labels")
        if not all(isinstance(label, str) and label.strip() for label in labels):
            raise InvalidRequestError("every label must be a non-empty string")
        if not isinstance(template, str) or template.count("{}") != 1:
            raise InvalidRequestError('template must contain "{}" exactly once')
        if (image is None) == (image_id is None):
            raise InvalidRequestError("give exactly one of image or image_id")
        query = self._embed(text=None, image=image, vector=None, image_id=image_id)
        # replace, not str.format: other braces in a template are plain text
        label_vectors = self.encoder.encode_texts([template.replace("{}", lbl) for lbl in labels])
        cosines = label_vectors @ query
        logits = self.encoder.logit_scale * cosines
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        ranked = sorted(
            zip(labels, probs.tolist(), cosines.tolist(), strict=True), key=lambda t: -t[1]
        )
        return [LabelProbability(lbl, float(p), float(c)) for lbl, p, c in ranked]

    def close(self) -> None:
        self.store.close()


__all__ = ["Retriever", "NotFoundError"]
