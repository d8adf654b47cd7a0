"""Fixtures of the encoder tests: one tiny seeded model of each family and text tower."""

from __future__ import annotations

import pytest

from indexer.encoders import Encoder, load_encoder
from tests.support.helpers import run_cli
from tests.unit.encoders.test_open_clip_family import _open_clip_folder


@pytest.fixture(
    scope="session", params=["biomedclip", "open_clip_vit", "pubmedclip", "conceptclip"]
)
def family_encoder(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tiny_encoder: Encoder
) -> Encoder:
    """One tiny seeded model of each text tower MedSearch runs (fp32, CPU)."""
    if request.param == "biomedclip":  # open_clip with a Hugging Face BERT tower and tokenizer
        return tiny_encoder
    folder = tmp_path_factory.mktemp("models") / request.param
    if request.param == "open_clip_vit":  # open_clip's own text transformer, CLIP tokenizer
        _open_clip_folder(folder)
    else:
        run_cli("model", "init", folder, "--arch", request.param, "--size", "tiny")
    return load_encoder(str(folder), device="cpu", precision="fp32", trust_remote_code=True)
