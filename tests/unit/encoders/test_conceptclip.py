"""ConceptCLIP on a real (tiny, randomly initialised) remote-code folder written by ``model init``.

The model card's recipe (``AutoModel``/``AutoProcessor`` with ``trust_remote_code``, then
``encode_image``/``encode_text`` normalised as the authors' retrieval evaluation does) and
MedSearch's encoder must give the same vectors; loading is refused without the user's trust.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from indexer.cli import cli
from indexer.encoders import Encoder, family_for, load_encoder
from indexer.encoders.families.conceptclip.init_folder import build_model, model_config
from indexer.encoders.registry import expand_alias
from indexer.errors import UntrustedModelCodeError
from indexer.imaging.decode import load_image, sniff_file
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from search_api import create_app
from tests.support.helpers import SAMPLE_DIR, SAMPLE_IMAGES, SAMPLE_METADATA, run_cli

TEXTS = [
    "chest X-ray with pleural effusion",
    "a medical image of brain MRI",
    "histopathology of adenocarcinoma, H&E stain",
    "fundus photograph showing diabetic retinopathy with microaneurysms and exudates " * 8,
]
#: SigLIP So400m/14 (timm, attention-pool head) + PubMedBERT-base without pooler + projections
FULL_PARAMETERS = 542_868_036


@pytest.fixture(scope="module")
def conceptclip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "conceptclip-tiny"
    run_cli("model", "init", folder, "--arch", "conceptclip", "--size", "tiny")
    return folder


@pytest.fixture(scope="module")
def conceptclip_encoder(conceptclip_dir: Path) -> Encoder:
    return load_encoder(
        str(conceptclip_dir), device="cpu", precision="fp32", trust_remote_code=True
    )


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _card_image(path: Path) -> Image.Image:
    """An image as the model card opens it; DICOM (the card cannot) with MedSearch's decoder."""
    if sniff_file(path) == "dicom":
        return load_image(path).image
    return Image.open(path).convert("RGB")


def test_model_init_writes_a_remote_code_folder(conceptclip_dir: Path) -> None:
    config = json.loads((conceptclip_dir / "config.json").read_text("utf-8"))
    for module in config["auto_map"].values():
        assert (conceptclip_dir / (module.split(".")[0] + ".py")).is_file()
    preprocessor = json.loads((conceptclip_dir / "preprocessor_config.json").read_text("utf-8"))
    assert preprocessor["image_size"] == 384
    assert preprocessor["image_mean"] == preprocessor["image_std"] == [0.5, 0.5, 0.5]
    assert (conceptclip_dir / "model.safetensors").is_file()
    assert (conceptclip_dir / "vocab.txt").is_file()
    marker = json.loads((conceptclip_dir / "medsearch_model.json").read_text("utf-8"))
    assert marker["random_weights"] is True and marker["arch"] == "conceptclip"
    assert family_for(str(conceptclip_dir)).name == "conceptclip"
    assert family_for("conceptclip").name == "conceptclip"
    assert expand_alias("conceptclip") == "JerrryNie/ConceptCLIP"


def test_any_folder_with_an_auto_map_is_remote_code(tmp_path: Path) -> None:
    config = {"model_type": "concept_clip", "auto_map": {"AutoModel": "modeling.Model"}}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert family_for(str(tmp_path)).runs_model_code
    with pytest.raises(UntrustedModelCodeError, match="Python code shipped in its folder"):
        load_encoder(str(tmp_path), device="cpu")


def test_loading_is_refused_without_trust(conceptclip_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UntrustedModelCodeError, match="--trust-remote-code"):
        load_encoder(str(conceptclip_dir), device="cpu", precision="fp32")
    result = CliRunner().invoke(
        cli,
        [
            "index",
            str(SAMPLE_DIR),
            "--index",
            str(tmp_path / "idx"),
            "--model",
            str(conceptclip_dir),
        ],
    )
    assert result.exit_code == 1
    assert "runs that code" in result.output and "MEDSEARCH_TRUST_REMOTE_CODE=1" in result.output
    assert not (tmp_path / "idx" / "index_info.json").exists()
    assert Settings.from_env({"MEDSEARCH_TRUST_REMOTE_CODE": "1"}).trust_remote_code is True
    assert Settings.from_env({}).trust_remote_code is False


@pytest.mark.slow
def test_parity_with_the_model_card_recipe(
    conceptclip_dir: Path, conceptclip_encoder: Encoder
) -> None:
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(str(conceptclip_dir), trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(str(conceptclip_dir), trust_remote_code=True)
    paths = sorted(SAMPLE_IMAGES.iterdir())
    assert any(sniff_file(p) == "dicom" for p in paths)
    card_images = [_card_image(p) for p in paths]
    with torch.no_grad():
        inputs = processor(
            images=card_images, text=TEXTS, return_tensors="pt", padding=True, truncation=True
        )
        # the authors' retrieval evaluation: first element of the tuple, then L2-normalised
        image_features = model.encode_image(inputs["pixel_values"])[0]
        text_features = model.encode_text(inputs["input_ids"])[0]
        outputs = model(**inputs)
    ref_images = (image_features / image_features.norm(dim=-1, keepdim=True)).numpy()
    ref_texts = (text_features / text_features.norm(dim=-1, keepdim=True)).numpy()

    ours_images = conceptclip_encoder.encode_images([load_image(p).image for p in paths])
    ours_texts = conceptclip_encoder.encode_texts(TEXTS)
    assert ours_images.shape == (len(paths), conceptclip_encoder.dim)
    assert _cosines(ours_images, ref_images).min() >= 0.99999
    assert _cosines(ours_texts, ref_texts).min() >= 0.99999
    # the card's forward: normalised features and the exponentiated scale
    assert _cosines(outputs["image_features"].numpy(), ref_images).min() >= 0.99999
    assert _cosines(outputs["text_features"].numpy(), ref_texts).min() >= 0.99999
    assert np.allclose(outputs["image_features"].norm(dim=-1).numpy(), 1.0, atol=1e-5)
    assert float(outputs["logit_scale"]) == pytest.approx(conceptclip_encoder.logit_scale)
    # the longest text is cut at 77 tokens by both
    assert inputs["input_ids"].shape[1] == 77


@pytest.mark.slow
def test_the_alias_loads_the_hub_id_from_an_offline_cache(
    conceptclip_dir: Path, conceptclip_encoder: Encoder, tmp_path: Path
) -> None:
    revision = "0" * 40
    repo = tmp_path / "hub" / "models--JerrryNie--ConceptCLIP"
    shutil.copytree(conceptclip_dir, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision, encoding="utf-8")
    code = (
        "from indexer.encoders import load_encoder; "
        "e = load_encoder('conceptclip', device='cpu', precision='fp32', trust_remote_code=True); "
        "print(e.model_ref, e.fingerprint, e.encode_texts(['chest X-ray'])[0, :4].tolist())"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    model_ref, fingerprint, start = done.stdout.strip().splitlines()[-1].split(" ", 2)
    assert model_ref == "JerrryNie/ConceptCLIP"
    assert fingerprint == conceptclip_encoder.fingerprint
    expected = conceptclip_encoder.encode_texts(["chest X-ray"])[0, :4]
    assert np.allclose(json.loads(start), expected, atol=1e-6)


def test_zero_shot_head_is_the_model_cards(
    conceptclip_dir: Path, conceptclip_encoder: Encoder
) -> None:
    """The card's zero-shot example: ``(logit_scale * image @ text.T).softmax(dim=-1)``."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(conceptclip_dir), trust_remote_code=True)
    cosines = np.array([[0.9, 0.2, -0.3], [0.1, 0.1, 0.1]], dtype=np.float32)
    card = (model.logit_scale.exp() * torch.from_numpy(cosines)).softmax(dim=-1)
    probs = conceptclip_encoder.label_probabilities(cosines)
    assert np.allclose(probs, card.detach().numpy(), atol=1e-6)


@pytest.fixture(scope="module")
def conceptclip_index(conceptclip_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("conceptclip") / "index"
    run_cli(
        "index", SAMPLE_DIR, "--index", index_dir, "--model", conceptclip_dir,
        "--metadata", SAMPLE_METADATA, "--trust-remote-code", "--device", "cpu",
        "--precision", "fp32", "--quiet",
    )  # fmt: skip
    return index_dir


@pytest.mark.slow
def test_index_search_similar_and_classify(conceptclip_index: Path) -> None:
    index_dir = conceptclip_index
    info = json.loads((index_dir / "index_info.json").read_text("utf-8"))
    assert info["encoder"]["name"] == "conceptclip" and info["encoder"]["random_weights"]
    found = json.loads(
        run_cli("search", index_dir, "--text", "chest X-ray", "-k", "3", "--json",
                "--trust-remote-code", "--device", "cpu", "--precision", "fp32")
    )  # fmt: skip
    assert len(found["results"]) == 3
    first = found["results"][0]["id"]
    similar = json.loads(
        run_cli("search", index_dir, "--id", str(first), "-k", "3", "--json",
                "--trust-remote-code", "--device", "cpu", "--precision", "fp32")
    )  # fmt: skip
    # the query image is left out of its own results
    assert len(similar["results"]) == 3 and first not in [h["id"] for h in similar["results"]]

    refused = CliRunner().invoke(cli, ["serve", str(index_dir), "--port", "0"])
    assert refused.exit_code == 1 and "--trust-remote-code" in refused.output

    settings = Settings(index_dir=index_dir, device="cpu", precision="fp32")
    with pytest.raises(UntrustedModelCodeError):
        Retriever.open(settings)
    retriever = Retriever.open(settings.replace(trust_remote_code=True))
    try:
        names = ["chest X-ray", "brain MRI", "skin lesion"]
        labels = retriever.classify(names, image_id=first)
        response = (
            create_app(settings, retriever=retriever)
            .test_client()
            .post("/api/classify", json={"labels": names, "image_id": first})
        )
    finally:
        retriever.close()
    assert [0 <= label.probability <= 1 for label in labels] == [True] * 3
    assert sum(label.probability for label in labels) == pytest.approx(1.0, abs=1e-5)
    assert labels == sorted(labels, key=lambda label: -label.probability)
    assert response.status_code == 200, response.get_json()
    served = {row["label"]: row["probability"] for row in response.get_json()["labels"]}
    by_label = {label.label: label.probability for label in labels}
    assert served == pytest.approx({name: by_label[name] for name in served})


def test_the_benchmark_times_the_model_card_recipe(conceptclip_dir: Path) -> None:
    from indexer.encoders.runtime.model_card import model_card_rate

    paths = [str(SAMPLE_IMAGES / "cxr_01.jpg"), str(SAMPLE_IMAGES / "dcm_ct_small.dcm")]
    rate = model_card_rate(str(conceptclip_dir), paths, device="cpu")
    assert rate["images"] == 2 and rate["images_per_s"] > 0 and rate["ms_per_image"] > 0


def test_full_size_has_the_so400m_pubmedbert_parameter_count() -> None:
    """Counted on the meta device (no memory): the exact widths of ConceptCLIP-Pretraining.json."""
    import timm
    from transformers import BertConfig, BertModel

    with torch.device("meta"):
        full = build_model("full", seed=0)
        image_tower = timm.create_model(
            "vit_so400m_patch14_siglip_384", pretrained=False, num_classes=0
        )
        text_tower = BertModel(BertConfig(), add_pooling_layer=False)
    config = model_config("full")
    assert config.embed_dim == 1152 and config.image_size == 384
    heads = (
        768 * 1152  # text projection
        + 2 * 1152 * 1152  # image concept head
        + (768 + 1152) * 1152  # text concept head
        + 4  # logit scale and bias, concept logit scale and bias
    )
    count = sum(p.numel() for p in full.parameters())
    expected = sum(p.numel() for p in image_tower.parameters())
    expected += sum(p.numel() for p in text_tower.parameters()) + heads
    assert count == expected == FULL_PARAMETERS


@pytest.mark.slow
def test_eval_opens_the_index_only_when_trusted(
    conceptclip_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["eval", str(conceptclip_index), "--device", "cpu", "--precision", "fp32"]
    args += ["--label-field", "body_part", "--bootstrap", "0", "--json"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1 and "--trust-remote-code" in refused.output
    trusted = CliRunner().invoke(cli, [*args, "--trust-remote-code"])
    assert trusted.exit_code == 0, trusted.output
    figures = json.loads(trusted.stdout)
    (measured,) = figures["indexes"]
    assert "conceptclip" in measured["encoder"]
    assert measured["text_to_image"]["n"] > 0
    monkeypatch.setenv("MEDSEARCH_TRUST_REMOTE_CODE", "1")
    by_setting = CliRunner().invoke(cli, args)
    assert by_setting.exit_code == 0, by_setting.output
    assert json.loads(by_setting.stdout) == figures
