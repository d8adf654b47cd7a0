"""The runtimes of exported towers (onnx and openvino) on tiny real models of every family: the
fp32 export matches PyTorch fp32, the int8 towers pass the fidelity guard on the sample corpus, the
cache is made once and reused, and the wrong combinations of runtime and precision are refused."""

from __future__ import annotations

import gc
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from indexer.encoders import Encoder, load_encoder
from indexer.encoders.onnx.calibration import (
    CALIBRATION_SIZE,
    MEDICAL_PHRASES,
    Calibration,
    calibration_of,
    file_images,
)
from indexer.encoders.onnx.export import COMPLETE_MARKER, cache_folder, cached
from indexer.encoders.onnx.exported_encoder import ExportedEncoder
from indexer.errors import InvalidRequestError
from indexer.imaging.decode import load_image
from indexer.settings import Settings
from tests.support.helpers import SAMPLE_IMAGES

TEXTS = [
    "chest X-ray with pleural effusion",
    "this is a photo of brain MRI",
    "adenocarcinoma histopathology, H&E stain",
    "Fundus photograph: diabetic retinopathy with hard exudates!",
]


#: each runtime of exported towers: its name, the package naming its cache folder, and the file
#: of the int8 image tower
RUNTIMES = {"onnx": ("onnxruntime", "image.onnx"), "openvino": ("openvino", "image.xml")}


@pytest.fixture(scope="session")
def sample_calibration() -> Calibration:
    return calibration_of(file_images(sorted(SAMPLE_IMAGES.iterdir())), [])


@pytest.fixture(params=list(RUNTIMES))
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _exported(
    reference: Encoder,
    precision: str,
    cache: Path,
    calibration: Calibration | None,
    runtime: str,
) -> ExportedEncoder:
    encoder = load_encoder(
        reference.model_ref,
        device="cpu",
        precision=precision,
        runtime=runtime,
        cache=cache,
        calibration=calibration,
        trust_remote_code=True,
    )
    assert isinstance(encoder, ExportedEncoder) and encoder.runtime == runtime
    return encoder


def _sample_images() -> list[Image.Image]:
    return [load_image(path).image for path in sorted(SAMPLE_IMAGES.iterdir())]


@pytest.mark.slow
def test_fp32_export_embeds_as_pytorch_fp32(
    family_encoder: Encoder, onnx_cache: Path, runtime: str
) -> None:
    onnx = _exported(family_encoder, "fp32", onnx_cache, None, runtime)
    assert (onnx.fingerprint, onnx.dim, onnx.precision) == (
        family_encoder.fingerprint,
        family_encoder.dim,
        "fp32",
    )
    images = _sample_images()
    image_cosines = np.sum(onnx.encode_images(images) * family_encoder.encode_images(images), 1)
    text_cosines = np.sum(onnx.encode_texts(TEXTS) * family_encoder.encode_texts(TEXTS), 1)
    assert image_cosines.min() >= 0.9999
    assert text_cosines.min() >= 0.9999
    # a text alone and in a batch of different lengths gets the same vector (dynamic axes)
    alone = onnx.encode_texts(TEXTS[-1:])
    np.testing.assert_allclose(alone[0], onnx.encode_texts(TEXTS)[-1], atol=1e-5)


@pytest.mark.slow
def test_int8_is_faithful_on_the_sample_corpus(
    family_encoder: Encoder, onnx_cache: Path, sample_calibration: Calibration, runtime: str
) -> None:
    onnx = _exported(family_encoder, "int8", onnx_cache, sample_calibration, runtime)
    assert onnx.fidelity is not None
    report = onnx.fidelity
    assert report.faithful and (report.precision, report.runtime) == ("int8", runtime)
    assert report.mean_cosine >= 0.995 and report.min_cosine >= 0.98
    assert report.top10_overlap >= 0.9
    # the figures are those of the images and texts as this test embeds them itself
    images = _sample_images()
    cosines = np.sum(onnx.encode_images(images) * family_encoder.encode_images(images), 1)
    assert cosines.min() >= report.min_cosine - 1e-4
    assert "32 images (fewer than 64" in report.calibration
    assert f"{len(MEDICAL_PHRASES)} built-in medical phrases" in report.calibration
    record = onnx.fidelity_record()
    assert record is not None and float(record["mean_cosine"]) == pytest.approx(
        report.mean_cosine, abs=1e-5
    )


def _torch_weights_reachable_from(root: object) -> list[tuple[int, ...]]:
    """Shapes of the parameters and the tensors of 1,024 numbers or more that ``root``'s objects
    refer to, directly or not (classes, modules and functions, which reach every global, are not
    followed)."""
    seen: set[int] = set()
    pending, found = [root], []
    while pending:
        item = pending.pop()
        if id(item) in seen or isinstance(item, (type, types.ModuleType, types.FunctionType)):
            continue
        seen.add(id(item))
        if isinstance(item, torch.Tensor):
            if isinstance(item, torch.nn.Parameter) or item.numel() >= 1024:
                found.append(tuple(item.shape))
            continue
        pending.extend(gc.get_referents(item))
    return found


@pytest.mark.slow
def test_an_int8_model_lets_the_pytorch_model_go_once_checked(
    tiny_encoder: Encoder, onnx_cache: Path, sample_calibration: Calibration, runtime: str
) -> None:
    onnx = _exported(tiny_encoder, "int8", onnx_cache, sample_calibration, runtime)
    assert onnx.fidelity is not None
    assert _torch_weights_reachable_from(onnx) == []
    # the weights went, not what the towers' inputs are made with
    cosines = np.sum(onnx.encode_texts(TEXTS) * tiny_encoder.encode_texts(TEXTS), 1)
    assert cosines.min() >= onnx.fidelity.min_cosine - 1e-3
    assert _torch_weights_reachable_from(tiny_encoder) != []  # the walk does find a model


@pytest.mark.slow
def test_the_cache_is_made_once_and_reused(
    tiny_encoder: Encoder, onnx_cache: Path, sample_calibration: Calibration, runtime: str
) -> None:
    package, image_file = RUNTIMES[runtime]
    _exported(tiny_encoder, "int8", onnx_cache, sample_calibration, runtime)
    folder = cache_folder(onnx_cache, tiny_encoder.fingerprint, "int8", package)
    made = (folder / image_file).stat().st_mtime_ns
    _exported(tiny_encoder, "int8", onnx_cache, sample_calibration, runtime)
    assert (folder / image_file).stat().st_mtime_ns == made
    assert sorted(p.name for p in folder.parent.iterdir()) == ["fp32", "int8"]  # no temporaries


def test_a_cache_folder_is_made_once_and_atomically(tmp_path: Path) -> None:
    calls: list[Path] = []

    def make(folder: Path) -> None:
        calls.append(folder)
        (folder / "tower.onnx").write_bytes(b"made")

    target = tmp_path / "model-a" / "onnxruntime-1" / "int8"
    assert cached(target, make) == target
    assert cached(target, make) == target
    assert len(calls) == 1 and calls[0] != target
    assert (target / COMPLETE_MARKER).is_file() and not calls[0].exists()

    def fail(folder: Path) -> None:
        (folder / "half.onnx").write_bytes(b"half")
        raise RuntimeError("interrupted")

    other = tmp_path / "model-b" / "onnxruntime-1" / "int8"
    with pytest.raises(RuntimeError):
        cached(other, fail)
    assert not other.exists() and list(other.parent.iterdir()) == []


def test_the_cache_key_holds_the_model_runtime_version_and_precision(tmp_path: Path) -> None:
    import onnxruntime
    import openvino

    folder = cache_folder(tmp_path, "biomedclip-0123", "int8", "onnxruntime")
    assert (
        folder == tmp_path / "biomedclip-0123" / f"onnxruntime-{onnxruntime.__version__}" / "int8"
    )
    assert cache_folder(tmp_path, "biomedclip-4567", "int8", "onnxruntime") != folder
    assert cache_folder(tmp_path, "biomedclip-0123", "fp32", "onnxruntime") != folder
    assert cache_folder(tmp_path, "biomedclip-0123", "int8", "openvino") == (
        tmp_path / "biomedclip-0123" / f"openvino-{openvino.__version__.split('-')[0]}" / "int8"
    )


def test_int8_needs_the_onnx_or_openvino_runtime(tiny_model_dir: Path) -> None:
    with pytest.raises(InvalidRequestError, match="--runtime onnx or --runtime openvino"):
        load_encoder(str(tiny_model_dir), device="cpu", precision="int8")


def test_an_unknown_runtime_is_refused_with_the_known_ones(tiny_model_dir: Path) -> None:
    with pytest.raises(InvalidRequestError, match="use torch, onnx, openvino"):
        load_encoder(str(tiny_model_dir), device="cpu", runtime="tensorrt")


@pytest.mark.parametrize(
    ("device", "precision", "calibration", "message"),
    [
        ("cpu", "bf16", None, "fp32 or int8"),
        ("cuda", "fp32", None, "on the CPU"),
        ("cpu", "int8", None, "images of the corpus"),
    ],
)
def test_an_exported_runtime_refuses_what_it_cannot_run(
    tiny_model_dir: Path, device: str, precision: str, calibration: None, message: str, runtime: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        load_encoder(
            str(tiny_model_dir), device=device, precision=precision, runtime=runtime, cache=None
        )


def test_runtime_and_precision_settings(runtime: str) -> None:
    settings = Settings.from_env({"MEDSEARCH_RUNTIME": runtime, "MEDSEARCH_PRECISION": "int8"})
    assert (settings.runtime, settings.precision) == (runtime, "int8")
    assert Settings().runtime == "torch"


def test_calibration_takes_captions_or_phrases_and_at_most_64_images(tmp_path: Path) -> None:
    paths = [tmp_path / f"{i:03d}.png" for i in range(300)]
    with_captions = calibration_of(file_images(paths), [f"caption {i}" for i in range(100)])
    assert with_captions.captions and len(with_captions.texts) == CALIBRATION_SIZE
    assert len(with_captions.images) == 3 * CALIBRATION_SIZE
    # the evenly spaced candidates come first, spread over the whole corpus
    first = [image.name for image in with_captions.images[:CALIBRATION_SIZE]]
    assert first[0] == "000.png" and int(first[-1][:3]) >= 290
    without = calibration_of(file_images(paths[:5]), [])
    assert not without.captions and list(without.texts) == list(MEDICAL_PHRASES)
    assert len(MEDICAL_PHRASES) >= CALIBRATION_SIZE
    assert "5 images (fewer than 64" in without.describe(5)
