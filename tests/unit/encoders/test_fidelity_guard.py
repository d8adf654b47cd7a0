"""The fidelity guard's figures, checked against brute force, and its refusal of a model that
embeds unlike the reference (another real model, standing for a quantisation gone wrong)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.encoders import Encoder
from indexer.encoders.onnx.calibration import calibration_of, file_images
from indexer.encoders.onnx.fidelity import measure_fidelity, require_faithful, top_k_overlap
from indexer.errors import UnfaithfulRuntimeError
from tests.support.helpers import SAMPLE_IMAGES


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_top_k_overlap_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    want_db = _unit(rng.normal(size=(200, 16)))
    got_db = _unit(want_db + rng.normal(scale=0.05, size=want_db.shape))
    want_q, got_q = want_db[:20], got_db[:20]
    expected = []
    for q in range(20):
        want = {j for j in sorted(range(200), key=lambda j: -float(want_q[q] @ want_db[j]))[:10]}
        got = {j for j in sorted(range(200), key=lambda j: -float(got_q[q] @ got_db[j]))[:10]}
        expected.append(len(want & got) / 10)
    assert top_k_overlap(want_q, want_db, got_q, got_db) == pytest.approx(np.mean(expected))
    assert top_k_overlap(want_q, want_db, want_q, want_db) == 1.0


def test_the_reference_itself_is_faithful(tiny_encoder: Encoder) -> None:
    calibration = calibration_of(file_images(sorted(SAMPLE_IMAGES.iterdir())[:12]), [])
    report = measure_fidelity(tiny_encoder, tiny_encoder, calibration)
    assert report.faithful
    assert report.mean_cosine == pytest.approx(1.0, abs=1e-5)
    assert report.top10_overlap == 1.0
    require_faithful(report, "tiny")


def test_an_unfaithful_model_is_refused_with_its_figures(
    tiny_encoder: Encoder, other_model_dir: Path
) -> None:
    from indexer.encoders import load_encoder

    other = load_encoder(str(other_model_dir), device="cpu", precision="fp32")
    calibration = calibration_of(file_images(sorted(SAMPLE_IMAGES.iterdir())[:12]), ["a", "b"])
    report = measure_fidelity(other, tiny_encoder, calibration)
    assert not report.faithful
    # brute force: the mean of the cosines of each image's and text's two vectors
    names, prepared = calibration.prepared(tiny_encoder)
    cosines = np.concatenate(
        [
            np.sum(other.encode_prepared(prepared) * tiny_encoder.encode_prepared(prepared), 1),
            np.sum(other.encode_texts(["a", "b"]) * tiny_encoder.encode_texts(["a", "b"]), 1),
        ]
    )
    assert report.mean_cosine == pytest.approx(float(cosines.mean()), abs=1e-5)
    assert report.min_cosine == pytest.approx(float(cosines.min()), abs=1e-5)
    with pytest.raises(UnfaithfulRuntimeError) as refused:
        require_faithful(report, "tiny")
    message = refused.value.message
    assert f"mean cosine {report.mean_cosine:.4f}" in message
    assert f"top-10 overlap {report.top10_overlap:.3f}" in message
    assert report.worst[0] in message and "--precision bf16" in message
