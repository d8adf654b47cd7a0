"""The open_clip family beyond BiomedCLIP, and indexes built before there were families."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from indexer.encoders import Encoder, load_encoder, locate_model
from indexer.encoders.runtime.torch_encoder import TorchEncoder
from indexer.imaging.decode import load_image
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.storage.folder import IndexFolder
from tests.support.helpers import SAMPLE_IMAGES

IMAGES = ["cxr_02.jpg", "fundus_02.png", "histo_01.png", "dcm_ct_head.dcm", "dcm_us_kidney.dcm"]
TEXTS = ["chest X-ray with cardiomegaly", "ultrasound of the kidney", "this is a photo of brain CT"]
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def _open_clip_folder(folder: Path, **model_cfg: Any) -> Path:
    """A tiny ViT-B/32-style open_clip model (open_clip's own towers) with seeded random weights."""
    folder.mkdir()
    config = {
        "model_cfg": {
            "embed_dim": 64,
            "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2},
            **model_cfg,
        },
        "preprocess_cfg": {"mean": MEAN, "std": STD},
    }
    config["model_cfg"]["text_cfg"]["layers"] = 2
    (folder / "open_clip_config.json").write_text(json.dumps(config), encoding="utf-8")
    torch.manual_seed(0)
    model = open_clip.create_model(f"local-dir:{folder}", load_weights=False)
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder


@pytest.fixture(scope="module")
def vit_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _open_clip_folder(tmp_path_factory.mktemp("models") / "vit-b-32-tiny")


def _images() -> list[Image.Image]:
    return [load_image(SAMPLE_IMAGES / name).image for name in IMAGES]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _model_card(folder: Path) -> tuple[Any, np.ndarray, np.ndarray]:
    """open_clip's recipe: ``create_model_from_pretrained`` and ``get_tokenizer`` on the folder."""
    model, preprocess = open_clip.create_model_from_pretrained(f"local-dir:{folder}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
    model.eval()
    with torch.no_grad():
        images = model.encode_image(torch.stack([preprocess(im) for im in _images()]))
        texts = model.encode_text(tokenizer(TEXTS))
    unit = torch.nn.functional.normalize
    return model, unit(images, dim=-1).numpy(), unit(texts, dim=-1).numpy()


def test_another_open_clip_architecture_matches_its_recipe(vit_folder: Path) -> None:
    encoder = load_encoder(str(vit_folder), device="cpu", precision="fp32")
    _, card_images, card_texts = _model_card(vit_folder)
    images, texts = encoder.encode_images(_images()), encoder.encode_texts(TEXTS)
    assert images.shape == (len(IMAGES), 64) and texts.shape == (len(TEXTS), 64)
    assert _cosines(images, card_images).min() >= 0.99999
    assert _cosines(texts, card_texts).min() >= 0.99999
    record = encoder.describe()
    assert (record.family, record.name) == ("open_clip", "open_clip")
    assert record.fingerprint.startswith("open_clip-") and not record.random_weights
    prepared = [encoder.prepare(im) for im in _images()]
    assert isinstance(encoder, TorchEncoder)  # only torch encoders have the card's preprocess
    pixels = torch.stack([encoder.preprocess(im) for im in _images()])
    np.testing.assert_array_equal(encoder.encode_prepared(prepared), encoder.encode_pixels(pixels))


def test_bf16_of_another_architecture_stays_close(vit_folder: Path) -> None:
    fp32 = load_encoder(str(vit_folder), device="cpu", precision="fp32")
    bf16 = load_encoder(str(vit_folder), device="cpu", precision="bf16")
    assert _cosines(bf16.encode_images(_images()), fp32.encode_images(_images())).min() >= 0.999
    assert _cosines(bf16.encode_texts(TEXTS), fp32.encode_texts(TEXTS)).min() >= 0.999


def test_a_sigmoid_trained_model_scores_labels_as_open_clip_does(tmp_path: Path) -> None:
    folder = _open_clip_folder(tmp_path / "siglip-style", init_logit_bias=-10.0)
    encoder = load_encoder(str(folder), device="cpu", precision="fp32")
    model, card_images, card_texts = _model_card(folder)
    with torch.no_grad():
        card_probs = torch.sigmoid(
            model.logit_scale.exp() * torch.from_numpy(card_images @ card_texts.T)
            + model.logit_bias
        ).numpy()
    cosines = encoder.encode_images(_images()) @ encoder.encode_texts(TEXTS).T
    np.testing.assert_allclose(encoder.label_probabilities(cosines), card_probs, atol=1e-5)


def _fingerprint_before_families(model_dir: Path) -> str:
    """The fingerprint as MedSearch computed it when it knew BiomedCLIP only."""
    folder = locate_model(str(model_dir))
    digest = hashlib.sha256()
    digest.update(json.dumps(folder.config["model_cfg"], sort_keys=True).encode())
    digest.update(json.dumps(folder.config.get("preprocess_cfg", {}), sort_keys=True).encode())
    digest.update(hashlib.sha256(folder.weights.read_bytes()).digest())
    return "biomedclip-" + digest.hexdigest()[:24]


def test_an_index_from_before_encoder_families_opens_with_its_model_folder(
    tmp_path: Path, sample_index_dir: Path, tiny_model_dir: Path, tiny_encoder: Encoder
) -> None:
    old = _fingerprint_before_families(tiny_model_dir)
    assert tiny_encoder.fingerprint == old
    index_dir = Path(shutil.copytree(sample_index_dir, tmp_path / "index"))
    info_path = IndexFolder(index_dir).info_path
    info = json.loads(info_path.read_text())
    del info["encoder"]["family"]  # the file as written before families were recorded
    info["encoder"]["fingerprint"] = old
    info_path.write_text(json.dumps(info))
    settings = Settings(index_dir=index_dir, device="cpu", precision="fp32")
    retriever = Retriever.open(settings)  # loads the model the index names: the same folder
    try:
        result = retriever.search(text="chest X-ray", k=3)
    finally:
        retriever.close()
    assert len(result.hits) == 3
    assert IndexFolder(index_dir).read_info().encoder.family == "open_clip"
