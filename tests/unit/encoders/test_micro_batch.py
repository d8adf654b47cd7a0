"""Micro-batching of text and image queries: concurrent requests share forwards and get their
own vectors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pytest

from indexer.encoders import Encoder
from indexer.encoders.runtime.device import ModelThread
from indexer.encoders.runtime.micro_batch import BatchStats, MicroBatcher
from indexer.encoders.runtime.torch_encoder import TorchEncoder
from indexer.imaging.decode import load_image
from tests.support.helpers import SAMPLE_IMAGES

#: texts of different token counts, so that a batch pads the shorter ones
TEXTS = [
    "chest X-ray",
    "chest X-ray with a large right pleural effusion and a small left one",
    "brain MRI",
    "fundus photograph showing diabetic retinopathy with microaneurysms and hard exudates",
    "H&E stain",
    "ultrasound of the kidney",
    "CT of the abdomen with contrast, axial slice through the liver",
    "knee",
]

#: sample images of different sizes and modalities
IMAGES = ["cxr_01.jpg", "fundus_01.jpg", "histo_01.png", "dcm_ct_head.dcm", "cxr_09.jpg"]


def _together(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once, one thread each; each one's result or the exception it raised."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def call(slot: int) -> None:
        start.wait()
        try:
            results[slot] = calls[slot]()
        except Exception as exc:
            results[slot] = exc

    threads = [threading.Thread(target=call, args=(slot,)) for slot in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _embed_together_until_batched(
    embed: Callable[[list[Any]], np.ndarray],
    items: Sequence[Any],
    stats: Callable[[], BatchStats],
    *,
    min_cosine: float,
    atol: float | None = None,
) -> None:
    """Embed each item (twice) from a thread of its own, all at once, until some forward took
    several requests; every round's rows must be those the items get alone."""
    alone = np.concatenate([embed([item]) for item in items] * 2)
    before = stats()
    # Batches form when requests arrive while the model thread is busy; a few rounds of
    # simultaneous requests make that all but certain, and every round must be exact.
    for _ in range(5):
        together = np.concatenate(_together([partial(embed, [item]) for item in [*items] * 2]))
        if atol is not None:
            np.testing.assert_allclose(together, alone, atol=atol)
        assert np.sum(together * alone, axis=1).min() >= min_cosine
        if stats().largest > 1:
            break
    after = stats()
    assert after.largest > 1
    assert after.requests - before.requests > after.forwards - before.forwards
    assert after.waiting == 0


def test_concurrent_texts_embed_as_they_do_alone(family_encoder: Encoder) -> None:
    assert isinstance(family_encoder, TorchEncoder)
    _embed_together_until_batched(
        family_encoder.encode_texts,
        TEXTS,
        lambda: family_encoder.text_batches,
        min_cosine=0.99999,
        atol=2e-6,
    )


def test_concurrent_images_embed_as_they_do_alone(tiny_encoder: Encoder) -> None:
    assert isinstance(tiny_encoder, TorchEncoder)
    images = [tiny_encoder.prepare(load_image(SAMPLE_IMAGES / name).image) for name in IMAGES]
    _embed_together_until_batched(
        tiny_encoder.encode_prepared, images, lambda: tiny_encoder.image_batches, min_cosine=0.9999
    )
    # an indexing batch, larger than one forward of queries, still goes through in one call
    assert tiny_encoder.encode_prepared(images * 2).shape == (2 * len(images), tiny_encoder.dim)


@pytest.fixture
def held_thread() -> ModelThread:
    return ModelThread()


def _hold(model_thread: ModelThread) -> threading.Event:
    """Keep ``model_thread`` busy until the returned event is set."""
    release = threading.Event()
    model_thread.submit(release.wait)
    return release


def _start_while_held(
    batcher: MicroBatcher[Any], release: threading.Event, calls: Sequence[Callable[[], Any]]
) -> list[Any]:
    """Queue the calls behind the held model thread, then release it and collect the results."""
    results: list[Any] = []
    collector = threading.Thread(target=lambda: results.extend(_together(calls)))
    collector.start()
    deadline = time.monotonic() + 30
    while batcher.stats.waiting < len(calls) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert batcher.stats.waiting == len(calls)
    release.set()
    collector.join(timeout=60)
    return results


def test_waiting_requests_go_through_one_forward(
    tiny_encoder: Encoder, held_thread: ModelThread
) -> None:
    batcher = MicroBatcher(held_thread, tiny_encoder.encode_texts, max_items=32)
    release = _hold(held_thread)
    results = _start_while_held(batcher, release, [partial(batcher, [text]) for text in TEXTS])
    stats = batcher.stats
    assert (stats.requests, stats.forwards, stats.largest) == (len(TEXTS), 1, len(TEXTS))
    for text, rows in zip(TEXTS, results, strict=True):
        assert rows.shape == (1, tiny_encoder.dim)
        np.testing.assert_allclose(rows, tiny_encoder.encode_texts([text]), atol=2e-6)


def test_the_bound_splits_waiting_requests_into_forwards(
    tiny_encoder: Encoder, held_thread: ModelThread
) -> None:
    batcher = MicroBatcher(held_thread, tiny_encoder.encode_texts, max_items=4)
    release = _hold(held_thread)
    pairs = [TEXTS[i : i + 2] for i in range(0, 8, 2)] + [TEXTS[:6]]  # the last one exceeds 4
    results = _start_while_held(batcher, release, [partial(batcher, p) for p in pairs])
    stats = batcher.stats
    assert stats.requests == len(pairs)
    assert stats.forwards >= 3  # 8 texts in pairs need two forwards, the 6 texts one alone
    assert stats.largest <= 2
    for pair, rows in zip(pairs, results, strict=True):
        np.testing.assert_allclose(rows, tiny_encoder.encode_texts(pair), atol=2e-6)


def test_an_error_reaches_only_its_own_caller(
    tiny_encoder: Encoder, held_thread: ModelThread
) -> None:
    batcher = MicroBatcher(held_thread, tiny_encoder.encode_texts, max_items=32)
    release = _hold(held_thread)
    not_a_text: Any = 42
    requests = [[TEXTS[0]], [not_a_text], [TEXTS[1], TEXTS[2]]]
    results = _start_while_held(batcher, release, [partial(batcher, r) for r in requests])
    with pytest.raises(Exception) as alone:
        tiny_encoder.encode_texts(requests[1])
    assert type(results[1]) is alone.type
    np.testing.assert_allclose(results[0], tiny_encoder.encode_texts(requests[0]), atol=2e-6)
    np.testing.assert_allclose(results[2], tiny_encoder.encode_texts(requests[2]), atol=2e-6)
    # the failed forward of all three is followed by one forward each
    assert (batcher.stats.requests, batcher.stats.forwards) == (3, 3)


def test_work_on_the_model_thread_embeds_directly(
    tiny_encoder: Encoder, held_thread: ModelThread
) -> None:
    batcher = MicroBatcher(held_thread, tiny_encoder.encode_texts, max_items=32)
    rows = held_thread.run(batcher, TEXTS[:2])
    np.testing.assert_allclose(rows, tiny_encoder.encode_texts(TEXTS[:2]), atol=2e-6)
    assert batcher.stats.forwards == 0  # not queued behind itself
