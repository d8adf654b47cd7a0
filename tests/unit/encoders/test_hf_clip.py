"""PubMedCLIP (transformers CLIP family) on a tiny random-weight folder written by `model init`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from indexer.encoders import Encoder, family_for, load_encoder
from indexer.encoders.families.hf_clip.folder import PUBMEDCLIP_HUB_ID
from indexer.encoders.runtime.torch_encoder import TorchEncoder
from indexer.errors import EncoderMismatchError, ModelUnavailableError
from indexer.imaging.decode import load_image
from indexer.indexing.pipeline import index_corpus
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from tests.support.helpers import SAMPLE_COUNT, SAMPLE_DIR, SAMPLE_IMAGES, index_sample, run_cli

PUBMEDCLIP_PARAMETERS = 151_277_313
#: one image of each kind in the sample corpus, DICOM (CR, CT, MR) included
IMAGES = [
    "cxr_01.jpg",
    "fundus_01.jpg",
    "histo_01.png",
    "dcm_cr_chest.dcm",
    "dcm_ct_abdomen.dcm",
    "dcm_mr_liver.dcm",
]
TEXTS = [
    "chest X-ray with pleural effusion",
    "this is a photo of brain MRI",
    "adenocarcinoma histopathology, H&E stain",
    "Fundus photograph: diabetic retinopathy with hard exudates!",
]
HUB_FILES = {
    "config.json",
    "preprocessor_config.json",
    "vocab.json",
    "merges.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "pytorch_model.bin",
}


@pytest.fixture(scope="module")
def pubmedclip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "pubmedclip-tiny"
    run_cli("model", "init", folder, "--arch", "pubmedclip", "--size", "tiny")
    return folder


@pytest.fixture(scope="module")
def pubmedclip(pubmedclip_dir: Path) -> Encoder:
    return load_encoder(str(pubmedclip_dir), device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def pubmedclip_index(tmp_path_factory: pytest.TempPathFactory, pubmedclip_dir: Path) -> Path:
    return index_sample(tmp_path_factory.mktemp("pubmedclip-index") / "index", pubmedclip_dir)


def _images() -> list[Image.Image]:
    return [load_image(SAMPLE_IMAGES / name).image for name in IMAGES]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _model_card(folder: Path) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """The model card's recipe: image and text features, normalised, and its label probabilities."""
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(folder)
    processor = CLIPProcessor.from_pretrained(folder)
    model.eval()
    inputs = processor(text=TEXTS, images=_images(), return_tensors="pt", padding=True)
    with torch.no_grad():
        images = model.get_image_features(pixel_values=inputs["pixel_values"])
        texts = model.get_text_features(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
        )
        probs = model(**inputs).logits_per_image.softmax(dim=1)
    images = getattr(images, "pooler_output", images)
    texts = getattr(texts, "pooler_output", texts)
    unit = torch.nn.functional.normalize
    return unit(images, dim=-1).numpy(), unit(texts, dim=-1).numpy(), probs


def test_model_init_writes_the_hub_repository_files(pubmedclip_dir: Path) -> None:
    assert {p.name for p in pubmedclip_dir.iterdir()} == HUB_FILES | {"medsearch_model.json"}
    marker = json.loads((pubmedclip_dir / "medsearch_model.json").read_text())
    assert marker["random_weights"] is True and marker["arch"] == "pubmedclip"
    assert json.loads((pubmedclip_dir / "config.json").read_text())["model_type"] == "clip"
    assert family_for(str(pubmedclip_dir)).name == "hf_clip"
    assert family_for("pubmedclip").name == "hf_clip"


def test_the_tokenizer_files_give_clips_own_token_ids(pubmedclip_dir: Path) -> None:
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(pubmedclip_dir)
    assert len(tokenizer) == 49408 and tokenizer.model_max_length == 77
    ours = tokenizer(TEXTS)["input_ids"]
    reference = open_clip.tokenize(TEXTS)  # OpenAI CLIP's tokenizer, padded with zeros
    for ids, row in zip(ours, reference.tolist(), strict=True):
        assert ids == row[: len(ids)] and not any(row[len(ids) :])


@pytest.mark.slow
def test_full_size_has_the_exact_pubmedclip_parameter_count(tmp_path: Path) -> None:
    marker = json.loads(
        run_cli(
            "model", "init", tmp_path / "full", "--arch", "pubmedclip", "--size", "full", "--json"
        )
    )
    assert marker["parameters"] == PUBMEDCLIP_PARAMETERS


def test_parity_with_the_model_card_recipe(pubmedclip_dir: Path, pubmedclip: Encoder) -> None:
    card_images, card_texts, card_probs = _model_card(pubmedclip_dir)
    images = pubmedclip.encode_images(_images())
    texts = pubmedclip.encode_texts(TEXTS)
    assert images.shape == (len(IMAGES), pubmedclip.dim) and images.dtype == np.float32
    assert _cosines(images, card_images).min() >= 0.99999
    assert _cosines(texts, card_texts).min() >= 0.99999
    # the zero-shot head is the card's softmax over logits_per_image
    probs = pubmedclip.label_probabilities(images @ texts.T)
    np.testing.assert_allclose(probs, card_probs.numpy(), atol=1e-4)


def test_prepared_images_embed_as_the_processors_own_pixels(pubmedclip: Encoder) -> None:
    images = _images()
    prepared = [pubmedclip.prepare(im) for im in images]
    side = pubmedclip.image_size
    assert all(p.dtype == np.uint8 and p.shape == (side, side, 3) for p in prepared)
    assert isinstance(pubmedclip, TorchEncoder)  # only torch encoders have the card's preprocess
    pixels = torch.stack([pubmedclip.preprocess(im) for im in images])
    assert _cosines(
        pubmedclip.encode_prepared(prepared), pubmedclip.encode_pixels(pixels)
    ).min() >= (0.99999)
    assert pubmedclip.encode_prepared([]).shape == (0, pubmedclip.dim)


def test_describes_itself_and_bf16_stays_close(pubmedclip_dir: Path, pubmedclip: Encoder) -> None:
    record = pubmedclip.describe()
    assert (record.family, record.name, record.dim) == ("hf_clip", "clip", 128)
    assert record.random_weights and record.fingerprint.startswith("clip-")
    assert pubmedclip.context_length == 77  # type: ignore[attr-defined]
    bf16 = load_encoder(str(pubmedclip_dir), device="cpu", precision="bf16")
    assert bf16.fingerprint == pubmedclip.fingerprint and bf16.logit_scale == pubmedclip.logit_scale
    assert (
        _cosines(bf16.encode_images(_images()), pubmedclip.encode_images(_images())).min() >= 0.999
    )
    assert _cosines(bf16.encode_texts(TEXTS), pubmedclip.encode_texts(TEXTS)).min() >= 0.999


def test_missing_weights_never_fall_back_to_random(tmp_path: Path, pubmedclip_dir: Path) -> None:
    folder = Path(shutil.copytree(pubmedclip_dir, tmp_path / "noweights"))
    (folder / "pytorch_model.bin").unlink()
    with pytest.raises(ModelUnavailableError, match="never falls back"):
        load_encoder(str(folder), device="cpu")
    # weights that lack some of the model's tensors are refused too
    state = torch.load(pubmedclip_dir / "pytorch_model.bin", weights_only=True)
    del state["visual_projection.weight"]
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(ModelUnavailableError, match="visual_projection.weight"):
        load_encoder(str(folder), device="cpu")


def test_unreachable_hub_explains_the_local_folder() -> None:
    with pytest.raises(ModelUnavailableError) as info:
        load_encoder("pubmedclip", device="cpu")
    message = info.value.message
    assert f"huggingface-cli download {PUBMEDCLIP_HUB_ID}" in message
    assert "--model DIR" in message and "vocab.json" in message and "pytorch_model.bin" in message


def test_index_search_similar_and_classify(pubmedclip_index: Path) -> None:
    info = json.loads(run_cli("info", pubmedclip_index, "--json"))
    assert info["count"] == SAMPLE_COUNT and info["dim"] == 128
    assert info["encoder"]["family"] == "hf_clip" and info["encoder"]["random_weights"] is True
    shown = run_cli("info", pubmedclip_index)
    assert "clip (hf_clip family)" in shown and "RANDOM WEIGHTS" in shown
    found = json.loads(
        run_cli("search", pubmedclip_index, "--text", "chest X-ray", "-k", "5", "--json")
    )
    assert len(found["results"]) == 5
    similar = json.loads(
        run_cli("search", pubmedclip_index, "--image", SAMPLE_IMAGES / "cxr_01.jpg", "--json")
    )
    assert similar["results"][0]["path"].endswith("cxr_01.jpg")
    assert similar["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)
    by_id = json.loads(run_cli("search", pubmedclip_index, "--id", "1", "-k", "3", "--json"))
    assert len(by_id["results"]) == 3 and 1 not in [hit["id"] for hit in by_id["results"]]
    settings = Settings(index_dir=pubmedclip_index, device="cpu", precision="fp32")
    retriever = Retriever.open(settings)
    try:
        labels = ["chest X-ray", "brain MRI", "fundus photograph"]
        ranked = retriever.classify(labels, image_id=1)
    finally:
        retriever.close()
    assert sorted(r.label for r in ranked) == sorted(labels)
    assert sum(r.probability for r in ranked) == pytest.approx(1.0, abs=1e-5)


def test_a_mismatched_encoder_is_refused(
    tmp_path: Path, sample_index_dir: Path, sample_settings: Settings, pubmedclip_dir: Path
) -> None:
    """An index built with BiomedCLIP (tiny) neither opens nor grows with PubMedCLIP (tiny)."""
    pubmedclip = load_encoder(str(pubmedclip_dir), device="cpu", precision="fp32")
    with pytest.raises(EncoderMismatchError):
        Retriever.open(sample_settings, encoder=pubmedclip)
    index_dir = Path(shutil.copytree(sample_index_dir, tmp_path / "index"))
    with pytest.raises(EncoderMismatchError):
        index_corpus(
            Settings(index_dir=index_dir, device="cpu", precision="fp32"),
            SAMPLE_DIR,
            encoder=pubmedclip,
        )


@pytest.mark.slow
def test_bench_index_times_the_model_cards_own_recipe(pubmedclip_dir: Path) -> None:
    from tests.unit.bench.test_bench import bench_json

    result = bench_json(
        "index",
        "--model",
        pubmedclip_dir,
        "--corpus",
        SAMPLE_IMAGES,
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--limit",
        "6",
        "--repeats",
        "1",
    )
    assert result["family"] == "hf_clip" and result["random_weights"] is True
    assert result["pipeline_runs"][0]["embedded"] == 6
    assert [run["images"] for run in result["reference_runs"]] == [6]
    assert result["reference_images_per_s"] > 0 and result["model_only_images_per_s"] > 0


@pytest.mark.slow
def test_compiled_image_tower_matches_eager(pubmedclip_dir: Path, pubmedclip: Encoder) -> None:
    compiled = load_encoder(
        str(pubmedclip_dir), device="cpu", precision="bf16", compile_images=True
    )
    images = _images()[:3]
    assert _cosines(compiled.encode_images(images), pubmedclip.encode_images(images)).min() >= 0.999


def test_eval_heads_the_column_with_the_model_a_user_knows(pubmedclip_index: Path) -> None:
    output = run_cli("eval", pubmedclip_index, "--device", "cpu", "--bootstrap", "0")
    heading = next(line for line in output.splitlines() if line.startswith("figure"))
    assert heading.endswith(f"{pubmedclip_index} (pubmedclip-tiny)"), heading
