"""Loading a model on the ONNX runtime: export (cached), quantise (cached), check, run.

fp32 runs the exported towers as they are; int8 needs images of the corpus (a
:class:`~.calibration.Calibration`) to calibrate the image tower when it is made, and to check it,
against the fp32 PyTorch model, every time it is loaded (:mod:`.fidelity`).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InvalidRequestError, ModelUnavailableError
from ..runtime.packed_linear import plain_linear_layers
from ..runtime.torch_encoder import TorchEncoder
from .calibration import Calibration
from .encoder import OnnxEncoder
from .export import IMAGE_FILE, TEXT_FILE, cache_folder, cached, default_cache, export_towers
from .fidelity import measure_fidelity, require_faithful
from .quantize import quantize_image_tower, quantize_text_tower, stacked

PRECISIONS = ("fp32", "int8")


def load_onnx(
    model: str,
    *,
    device: str,
    precision: str,
    compile_images: bool,
    trust_remote_code: bool,
    cache: Path | None,
    calibration: Calibration | None,
) -> OnnxEncoder:
    """The ONNX encoder of ``model`` at ``precision`` (auto: fp32) on the CPU; the towers are
    compiled by ONNX Runtime's graph optimiser whatever ``compile_images`` says."""
    from ..runtimes import load_torch  # the torch runtime, whose preprocessing is shared

    if device == "cuda":
        raise InvalidRequestError("the onnx runtime runs on the CPU: use --device cpu or auto")
    precision = "fp32" if precision == "auto" else precision
    if precision not in PRECISIONS:
        raise InvalidRequestError(
            f"the onnx runtime runs fp32 or int8, not {precision}; for {precision} use "
            "--runtime torch"
        )
    if precision == "int8" and calibration is None:
        raise InvalidRequestError(
            "int8 is calibrated and checked on images of the corpus: index a folder, or open an "
            "index, with --runtime onnx --precision int8"
        )
    with plain_linear_layers():
        reference = load_torch(
            model,
            device="cpu",
            precision="fp32",
            compile_images=False,
            trust_remote_code=trust_remote_code,
        )
    if not isinstance(reference, TorchEncoder):
        raise ModelUnavailableError(f"{model} has no PyTorch towers to export")
    root = cache or default_cache()
    fp32 = cached(
        cache_folder(root, reference.fingerprint, "fp32"),
        lambda folder: export_towers(reference, folder),
    )
    if precision == "fp32":
        encoder = OnnxEncoder(reference, fp32, "fp32")
        reference.release_weights()
        return encoder
    assert calibration is not None

    def quantize(folder: Path) -> None:
        _, prepared = calibration.prepared(reference)
        if not prepared:
            raise InvalidRequestError(
                "int8 is calibrated on images of the corpus, and it has no readable image yet: "
                "index some images with the default runtime first, or add images"
            )
        pixels = stacked([p.numpy() for p in reference.pixels(prepared)])
        quantize_image_tower(fp32 / IMAGE_FILE, folder / IMAGE_FILE, pixels)
        quantize_text_tower(fp32 / TEXT_FILE, folder / TEXT_FILE)

    int8 = cached(cache_folder(root, reference.fingerprint, "int8"), quantize)
    encoder = OnnxEncoder(reference, int8, "int8")
    encoder.fidelity = measure_fidelity(encoder, reference, calibration)
    require_faithful(encoder.fidelity, reference.model_ref)
    reference.release_weights()
    return encoder
