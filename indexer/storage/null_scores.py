"""The scores unrelated queries get on an index: the null distribution a result is judged by.

A cosine of 0.3 is a strong match for one model and noise for another, and what is noise depends
on the index too (immich's maintainers found the best hit of one query scoring below the noise of
another). So each published version records, in ``null_scores.json``, the top-``k`` scores of
queries that describe none of its images, per kind of query:

- ``text``: built-in off-topic phrases embedded with the index's model (when the model is at
  hand, as in an indexing run; :mod:`indexer.indexing.null_queries`);
- ``image``: synthetic pictures (flat colours, gradients, noise, stripes, checkerboards) embedded
  with the model likewise;
- ``random``: seeded random unit vectors in the index's space, which need no model, so every
  published index has them (a poor null for a CLIP text query: text and image vectors of a
  CLIP model share a cone of the space, random vectors do not).

A result's standing is its ``z`` (``(score - mean) / sd`` of the pooled null scores, sd the
population deviation) and its ``percentile`` (the share of null scores strictly below it, in
percent). The file's checksum is recorded in ``index_info.json`` like any other published file.

The scores are measured again only when the index's count has moved by more than
:data:`REMEASURE_SHARE` since they were measured (their ``count`` says on how many images): the
top scores of unrelated queries move with the size of the index, not with each checkpoint's few
thousand images, and measuring them costs a search of the whole index that would otherwise grow
every checkpoint of a long run with the rows already indexed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .. import ann
from ..errors import IndexCorruptError
from . import checksums
from .atomic import reporting_disk_full, write_atomic
from .folder import NULL_SCORES_FILE, IndexFolder
from .group_files import content_checksum
from .info import IndexInfo

#: scores kept per null query: its top-k results
NULL_TOP_K = 10
#: seeded random unit vectors measured on every index (no model needed)
RANDOM_QUERIES = 64
_RANDOM_SEED = 20_231
#: the null each query kind is judged by (an indexed image and a group are image queries)
NULL_OF_QUERY = {
    "text": "text",
    "image": "image",
    "image_id": "image",
    "group": "image",
    "vector": "random",
}
#: the share by which the index's count may move before its null scores are measured again
REMEASURE_SHARE = 0.05
#: a null whose scores spread less than this gives no z (every score alike)
_MIN_SD = 1e-9


@dataclass(frozen=True)
class NullQuerySet:
    """Unit vectors of one kind of unrelated query, and how they were made (in words)."""

    kind: str
    method: str
    vectors: npt.NDArray[np.float32]


@dataclass(frozen=True)
class NullSample:
    """The pooled top-``k`` scores of ``queries`` unrelated queries of one kind, sorted."""

    kind: str
    method: str
    queries: int
    k: int
    scores: npt.NDArray[np.float64]

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def sd(self) -> float:
        """The population standard deviation of the scores."""
        return float(np.std(self.scores))

    @property
    def usable(self) -> bool:
        """Whether the scores spread enough for a z (a sample of one value does not)."""
        return len(self.scores) > 0 and self.sd > _MIN_SD

    def z(self, score: float) -> float | None:
        return (score - self.mean) / self.sd if self.usable else None

    def percentile(self, score: float) -> float:
        """Percent of the null scores strictly below ``score``."""
        below = int(np.searchsorted(self.scores, score, side="left"))
        return 100.0 * below / len(self.scores)

    def score_at_z(self, z: float) -> float:
        """The lowest score whose z is ``z``."""
        return self.mean + z * self.sd

    def summary(self) -> dict[str, object]:
        """What ``medsearch info`` shows of it: everything but the scores themselves."""
        return {
            "method": self.method,
            "queries": self.queries,
            "k": self.k,
            "scores": len(self.scores),
            "mean": round(self.mean, 6),
            "sd": round(self.sd, 6),
            "p99": round(float(np.percentile(self.scores, 99)), 6),
        }


@dataclass(frozen=True)
class NullScores:
    """The null samples of one published version, by kind, and the version's image count."""

    count: int
    samples: Mapping[str, NullSample] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """What ``medsearch info`` shows: each sample's size, method and moments."""
        return {
            "count": self.count,
            "samples": {kind: s.summary() for kind, s in sorted(self.samples.items())},
        }

    def for_query(self, query_kind: str) -> NullSample | None:
        """The sample a query of ``query_kind`` (text, image, image_id, vector, group) is
        judged by; None when this index has none of that kind."""
        return self.samples.get(NULL_OF_QUERY.get(query_kind, ""))

    def to_json(self) -> dict[str, object]:
        return {
            "count": self.count,
            "samples": {
                kind: {
                    "method": s.method,
                    "queries": s.queries,
                    "k": s.k,
                    "scores": [round(float(v), 6) for v in s.scores],
                }
                for kind, s in sorted(self.samples.items())
            },
        }

    @classmethod
    def from_json(cls, data: object) -> NullScores:
        try:
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            samples = {
                str(kind): NullSample(
                    str(kind),
                    str(s["method"]),
                    int(s["queries"]),
                    int(s["k"]),
                    np.sort(np.asarray(s["scores"], dtype=np.float64)),
                )
                for kind, s in data["samples"].items()
            }
            return cls(int(data["count"]), samples)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IndexCorruptError(f"{NULL_SCORES_FILE} cannot be read: {exc!r}") from exc


def random_queries(dim: int, n: int = RANDOM_QUERIES) -> NullQuerySet:
    """Seeded random unit vectors of ``dim`` dimensions, the same for every index of ``dim``."""
    vectors = np.random.default_rng(_RANDOM_SEED).standard_normal((n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return NullQuerySet("random", f"{n} seeded random unit vectors", vectors.astype(np.float32))


def measure(index: ann.AnnIndex, query_sets: Sequence[NullQuerySet], k: int) -> NullScores:
    """The top-``k`` scores each query set gets on ``index``, pooled per kind."""
    samples = {}
    for queries in query_sets:
        scores, ids = index.search(queries.vectors, k)
        found = scores[ids >= 0].astype(np.float64)
        samples[queries.kind] = NullSample(
            queries.kind, queries.method, len(queries.vectors), k, np.sort(found)
        )
    return NullScores(index.ntotal, samples)


def load_null_scores(folder: IndexFolder, info: IndexInfo) -> NullScores | None:
    """The null scores ``info``'s version published, checked against its checksum; None for
    a version that records none (an index published before they existed)."""
    recorded = info.checksums.get(NULL_SCORES_FILE)
    if recorded is None:
        return None
    return NullScores.from_json(checksums.checked_json(folder.path / NULL_SCORES_FILE, recorded))


def publish_null_scores(
    folder: IndexFolder,
    info: IndexInfo,
    index: ann.AnnIndex,
    query_sets: Sequence[NullQuerySet],
    *,
    index_changed: bool,
) -> dict[str, str]:
    """The checksum of the null scores of the version being published, by file name (nothing
    for an empty index).

    The published file is kept while it holds every kind ``query_sets`` can measure and the
    index is unchanged or its count within :data:`REMEASURE_SHARE` of the count the scores were
    measured on; otherwise the scores are measured again and written aside and renamed into
    place."""
    if index.ntotal == 0:
        return {}
    sets = [*query_sets, random_queries(info.dim)]
    try:
        previous = load_null_scores(folder, info)
    except IndexCorruptError:
        previous = None
    if previous is not None and {s.kind for s in sets} <= set(previous.samples):
        moved = abs(index.ntotal - previous.count)
        if not index_changed or moved <= REMEASURE_SHARE * previous.count:
            return {NULL_SCORES_FILE: info.checksums[NULL_SCORES_FILE]}
    content = json.dumps(measure(index, sets, NULL_TOP_K).to_json(), sort_keys=True).encode()
    with reporting_disk_full(NULL_SCORES_FILE):
        write_atomic(folder.path / NULL_SCORES_FILE, content, durable=True)
    return {NULL_SCORES_FILE: content_checksum(content)}
