"""Encoders on real (tiny, randomly initialised) model folders: loading, exactness, parity."""

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
from PIL import Image

from indexer.encoders import Encoder, load_encoder, locate_model
from indexer.encoders.families.open_clip.folder import BIOMEDCLIP_HUB_ID, packaged_asset
from indexer.encoders.runtime.device import (
    CPU_IMAGES_PER_FORWARD,
    cpu_has_fast_bf16,
    resolve_device,
    resolve_precision,
)
from indexer.encoders.runtime.torch_encoder import TorchEncoder
from indexer.errors import ModelUnavailableError
from tests.support.helpers import REPO, SAMPLE_IMAGES, run_cli

IMAGES = ["cxr_01.jpg", "fundus_01.jpg", "histo_01.png"]
TEXTS = ["chest X-ray with pleural effusion", "this is a photo of brain MRI", "histopathology"]
BIOMEDCLIP_PARAMETERS = 195_902_721


def _images() -> list[Image.Image]:
    return [Image.open(SAMPLE_IMAGES / n).convert("RGB") for n in IMAGES]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_model_init_writes_an_offline_folder(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    marker = json.loads(run_cli("model", "init", folder, "--size", "tiny", "--json"))
    assert marker["random_weights"] is True
    names = {p.name for p in folder.iterdir()}
    assert names >= {
        "open_clip_config.json",
        "open_clip_pytorch_model.bin",
        "vocab.txt",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "text-encoder-config.json",
        "LICENSE.md",
        "medsearch_model.json",
    }
    assert (folder / "vocab.txt").read_bytes() == packaged_asset("vocab.txt").read_bytes()
    config = json.loads((folder / "open_clip_config.json").read_text())
    assert config["model_cfg"]["text_cfg"]["hf_proj_type"] == "mlp"
    assert locate_model(str(folder)).random_weights


@pytest.mark.slow
def test_full_size_has_the_exact_biomedclip_parameter_count(tmp_path: Path) -> None:
    marker = json.loads(run_cli("model", "init", tmp_path / "full", "--size", "full", "--json"))
    assert marker["parameters"] == BIOMEDCLIP_PARAMETERS


def test_embeddings_are_unit_float32(tiny_encoder: Encoder) -> None:
    images = tiny_encoder.encode_images(_images())
    texts = tiny_encoder.encode_texts(TEXTS)
    for array, n in ((images, len(IMAGES)), (texts, len(TEXTS))):
        assert array.dtype == np.float32 and array.shape == (n, tiny_encoder.dim)
        np.testing.assert_allclose(np.linalg.norm(array, axis=1), 1.0, atol=1e-5)
    assert tiny_encoder.encode_texts([]).shape == (0, tiny_encoder.dim)


def test_prepared_images_embed_exactly_as_the_model_card_preprocess(tiny_encoder: Encoder) -> None:
    images = _images()
    prepared = [tiny_encoder.prepare(im) for im in images]
    side = tiny_encoder.image_size
    assert all(p.dtype == np.uint8 and p.shape == (side, side, 3) for p in prepared)
    assert isinstance(tiny_encoder, TorchEncoder)  # only torch encoders have the card's preprocess
    pixels = torch.stack([tiny_encoder.preprocess(im) for im in images])
    np.testing.assert_array_equal(
        tiny_encoder.encode_prepared(prepared), tiny_encoder.encode_pixels(pixels)
    )
    assert tiny_encoder.encode_prepared([]).shape == (0, tiny_encoder.dim)


def test_text_padding_is_cut_without_changing_results(tiny_encoder: Encoder) -> None:
    model = tiny_encoder.model  # type: ignore[attr-defined]
    tokenizer = tiny_encoder.tokenizer  # type: ignore[attr-defined]
    padded = tokenizer(TEXTS, context_length=256)
    assert padded.shape[1] == 256
    assert tiny_encoder.tokenize(TEXTS).shape[1] < 20  # type: ignore[attr-defined]
    with torch.no_grad():
        reference = model.encode_text(padded, normalize=True).numpy()
    assert _cosines(tiny_encoder.encode_texts(TEXTS), reference).min() >= 0.99999


def test_bf16_stays_close_to_fp32(tiny_model_dir: Path, tiny_encoder: Encoder) -> None:
    bf16 = load_encoder(str(tiny_model_dir), device="cpu", precision="bf16")
    assert bf16.precision == "bf16"
    assert (
        _cosines(bf16.encode_images(_images()), tiny_encoder.encode_images(_images())).min()
        >= 0.999
    )
    assert _cosines(bf16.encode_texts(TEXTS), tiny_encoder.encode_texts(TEXTS)).min() >= 0.999
    # The temperature is read before the weights are cast, so zero-shot scores keep it exactly.
    assert bf16.logit_scale == tiny_encoder.logit_scale


def test_cpu_batches_go_through_the_image_tower_in_slices(tiny_encoder: Encoder) -> None:
    images = [
        tiny_encoder.prepare(Image.open(path).convert("RGB"))
        for path in sorted(SAMPLE_IMAGES.glob("cxr_*.jpg"))[:11]
    ]
    sizes: list[int] = []
    tower = tiny_encoder.model.visual  # type: ignore[attr-defined]
    hook = tower.register_forward_pre_hook(lambda _module, args: sizes.append(len(args[0])))
    try:
        batch = tiny_encoder.encode_prepared(images)
    finally:
        hook.remove()
    assert sizes == [CPU_IMAGES_PER_FORWARD, len(images) - CPU_IMAGES_PER_FORWARD]
    one_by_one = np.concatenate([tiny_encoder.encode_prepared([image]) for image in images])
    assert _cosines(batch, one_by_one).min() >= 0.99999


@pytest.mark.slow
def test_compiled_image_tower_matches_eager_and_pads_short_batches(
    tiny_model_dir: Path, tiny_encoder: Encoder
) -> None:
    compiled = load_encoder(
        str(tiny_model_dir), device="cpu", precision="bf16", compile_images=True
    )
    images = _images()
    full = compiled.encode_images(images)
    # A shorter batch runs padded to the compiled size: same rows, no second compilation.
    short = compiled.encode_images(images[:2])
    assert compiled._image_tower._sizes == [len(images)]  # type: ignore[attr-defined]
    assert _cosines(short, full[:2]).min() >= 0.99999
    assert _cosines(full, tiny_encoder.encode_images(images)).min() >= 0.999


def test_compiling_without_a_cxx_compiler_is_a_clear_error(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    with pytest.raises(ModelUnavailableError, match="C\\+\\+ compiler"):
        load_encoder(str(tiny_model_dir), device="cpu", compile_images=True)


def test_device_and_precision_auto() -> None:
    device = resolve_device("auto")
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if cpu_has_fast_bf16() else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32"


def _copy(folder: Path, dest: Path) -> Path:
    shutil.copytree(folder, dest)
    return dest


def test_old_config_revision_loads_the_same_model(
    tmp_path: Path, tiny_model_dir: Path, tiny_encoder: Encoder
) -> None:
    old = _copy(tiny_model_dir, tmp_path / "old")
    config = json.loads((old / "open_clip_config.json").read_text())
    text_cfg = config["model_cfg"]["text_cfg"]
    text_cfg["proj"] = text_cfg.pop("hf_proj_type")
    text_cfg["pooler_type"] = text_cfg.pop("hf_pooler_type")
    text_cfg["hf_model_name"] = "microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract"
    (old / "open_clip_config.json").write_text(json.dumps(config))
    (old / "text-encoder-config.json").rename(old / "config.json")
    loaded = load_encoder(str(old), device="cpu", precision="fp32")
    np.testing.assert_allclose(
        loaded.encode_texts(TEXTS), tiny_encoder.encode_texts(TEXTS), atol=1e-6
    )
    np.testing.assert_allclose(
        loaded.encode_images(_images()), tiny_encoder.encode_images(_images()), atol=1e-6
    )


def test_safetensors_weights_load(
    tmp_path: Path, tiny_model_dir: Path, tiny_encoder: Encoder
) -> None:
    from safetensors.torch import save_file

    folder = _copy(tiny_model_dir, tmp_path / "st")
    state = torch.load(folder / "open_clip_pytorch_model.bin", weights_only=True)
    save_file({k: v.contiguous() for k, v in state.items()}, folder / "open_clip_model.safetensors")
    (folder / "open_clip_pytorch_model.bin").unlink()
    loaded = load_encoder(str(folder), device="cpu", precision="fp32")
    np.testing.assert_allclose(
        loaded.encode_texts(TEXTS), tiny_encoder.encode_texts(TEXTS), atol=1e-6
    )


def test_missing_weights_never_fall_back_to_random(tmp_path: Path, tiny_model_dir: Path) -> None:
    folder = _copy(tiny_model_dir, tmp_path / "noweights")
    (folder / "open_clip_pytorch_model.bin").unlink()
    with pytest.raises(ModelUnavailableError, match="never falls back"):
        load_encoder(str(folder), device="cpu")


def test_unreachable_hub_explains_the_local_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError) as info:
        load_encoder("biomedclip", device="cpu")
    message = info.value.message
    assert "--model DIR" in message and "open_clip_pytorch_model.bin" in message
    assert f"huggingface-cli download {BIOMEDCLIP_HUB_ID}" in message


def _snapshot(cache: Path, repo: str, files: dict[str, Path]) -> None:
    revision = "0" * 40
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for name, source in files.items():
        shutil.copyfile(source, snapshot / name)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(revision)


def _offline_hub_cache(cache: Path, model: Path) -> None:
    """A Hugging Face cache holding ``model`` as BiomedCLIP and its text tower's files."""
    tokenizer = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    _snapshot(
        cache,
        BIOMEDCLIP_HUB_ID,
        {
            name: model / name
            for name in ["open_clip_config.json", "open_clip_pytorch_model.bin", *tokenizer]
        },
    )
    text_tower = json.loads((model / "open_clip_config.json").read_text())["model_cfg"]["text_cfg"][
        "hf_model_name"
    ]
    _snapshot(
        cache,
        text_tower,
        {
            "config.json": model / "text-encoder-config.json",
            **{name: model / name for name in tokenizer},
        },
    )


@pytest.mark.slow
def test_parity_with_the_model_card_recipe(
    tmp_path: Path, tiny_model_dir: Path, tiny_encoder: Encoder
) -> None:
    cache = tmp_path / "hub"
    _offline_hub_cache(cache, tiny_model_dir)
    out = tmp_path / "features.npz"
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    paths = [str(SAMPLE_IMAGES / n) for n in IMAGES]
    subprocess.run(
        [sys.executable, str(REPO / "tests" / "support" / "parity_recipe.py"), str(out), *paths],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    features = np.load(out)
    from tests.support.parity_recipe import LABELS, TEMPLATE

    ours_images = tiny_encoder.encode_images([Image.open(p).convert("RGB") for p in paths])
    ours_texts = tiny_encoder.encode_texts([TEMPLATE + label for label in LABELS])
    assert _cosines(ours_images, features["ref_images"]).min() >= 0.99999
    assert _cosines(ours_texts, features["ref_texts"]).min() >= 0.99999
    # loading by hub id (from the cache, offline) gives the same model
    assert _cosines(features["hub_images"], features["ref_images"]).min() >= 0.99999
    assert _cosines(features["hub_texts"], features["ref_texts"]).min() >= 0.99999
    assert str(features["hub_fingerprint"]) == tiny_encoder.fingerprint


@pytest.mark.parametrize("name, fmt", [("cxr_05.jpg", "JPEG"), ("histo_01.png", "PNG")])
def test_fast_decoding_keeps_embeddings(tiny_encoder: Encoder, name: str, fmt: str) -> None:
    """Draft/box reduction of a 2048 px image stays within cosine 0.999 of a full decode."""
    import io

    from indexer.imaging.decode import decode_image_bytes

    big = (
        Image.open(SAMPLE_IMAGES / name)
        .convert("RGB")
        .resize((2048, 2048), Image.Resampling.BICUBIC)
    )
    buffer = io.BytesIO()
    big.save(buffer, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    data = buffer.getvalue()
    full = decode_image_bytes(data).image
    fast = decode_image_bytes(data, draft_size=tiny_encoder.draft_size).image
    assert min(fast.size) < 1024
    vectors = tiny_encoder.encode_images([full, fast])
    assert float(vectors[0] @ vectors[1]) >= 0.999
