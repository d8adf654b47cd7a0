"""Setting an approximate index's search knobs so recall@10 reaches :data:`TARGET_RECALL`.

``nprobe`` / ``efSearch`` is doubled until the target is met. A re-ranking index has a second
knob, the candidates re-ranked per result: when probing more lists stops helping, its codes
rank the true neighbours too low, and the candidates are doubled instead; once they are at
their most, probing more lists that does not help is not worth its time either, and the
calibration stops below the target.
"""

from __future__ import annotations

from .base import AnnIndex, IdArray, RowSource
from .exact import exact_top_k, recall_against, sample_queries

TARGET_RECALL = 0.98
#: candidates re-ranked per wanted result, at first and at most
RERANK_START = 10
RERANK_MAX = 640
#: a doubling of nprobe that gains less recall than this no longer pays
_SATURATED = 0.005


def calibrate(
    ann: AnnIndex, ids: IdArray, vectors: RowSource, *, seed: int = 0, n_queries: int = 200
) -> float:
    """Raise the search knobs until recall@10 reaches TARGET_RECALL; return the recall."""
    queries = sample_queries(vectors, n_queries, seed=seed)
    limit = ann.family.param_limit(ann.index)
    _, truth = exact_top_k(vectors, ids, queries, 10)
    recall = recall_against(ann, truth, queries)
    while recall < TARGET_RECALL:
        can_probe = ann.search_param < limit
        can_widen = ann.family.reranks and ann.rerank_factor < RERANK_MAX
        if can_probe:
            before = ann.search_param
            ann.search_param = min(limit, ann.search_param * 2)
            probed = recall_against(ann, truth, queries)
            if probed - recall >= _SATURATED or not ann.family.reranks:
                recall = probed
                continue
            ann.search_param = before  # the codes are what falls short, not the lists
        if not can_widen:
            break
        ann.rerank_factor = min(RERANK_MAX, ann.rerank_factor * 2)
        recall = recall_against(ann, truth, queries)
    return recall
