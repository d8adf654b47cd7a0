"""Loading a model on the ONNX runtime: export (cached), quantise (cached), check, run.

fp32 runs the exported towers as they are; int8 needs images of the corpus (a
:class:`~.calibration.Calibration`) to calibrate the image tower when it is made, and to check it,
against the fp32 PyTorch model, every time it is loaded (:mod:`.fidelity`). The PyTorch model
embeds the check's images and texts first and is let go before the ONNX towers load, so the two are
never in memory together.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import InvalidRequestError, ModelUnavailableError
from ..runtime.freed_memory import return_freed_memory
from ..runtime.packed_linear import plain_linear_layers
from ..runtime.torch_encoder import TorchEncoder
from .calibration import Calibration
from .export import IMAGE_FILE, TEXT_FILE, cache_folder, cached, default_cache, export_towers
from .fidelity import compare_with_reference, reference_embeddings, require_faithful

if TYPE_CHECKING:
    from .encoder import OnnxEncoder

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
        reference.release_weights()
        return_freed_memory()
        return _running(reference, fp32, "fp32")
    assert calibration is not None
    # The fp32 model's own figures first: then it goes, before the int8 towers are made or loaded,
    # so that the two are never in memory together (int8 peaks no higher than bf16).
    expected = reference_embeddings(reference, calibration)
    reference.release_weights()
    return_freed_memory()

    def quantize(folder: Path) -> None:
        from .quantize import quantize_image_tower, quantize_text_tower, stacked

        if not expected.prepared:
            raise InvalidRequestError(
                "int8 is calibrated on images of the corpus, and it has no readable image yet: "
                "index some images with the default runtime first, or add images"
            )
        pixels = stacked([p.numpy() for p in reference.pixels(list(expected.prepared))])
        quantize_image_tower(fp32 / IMAGE_FILE, folder / IMAGE_FILE, pixels)
        quantize_text_tower(fp32 / TEXT_FILE, folder / TEXT_FILE)

    int8 = cached(cache_folder(root, reference.fingerprint, "int8"), quantize)
    return_freed_memory()  # what calibrating the image tower held
    encoder = _running(reference, int8, "int8")
    encoder.fidelity = compare_with_reference(encoder, expected, calibration)
    require_faithful(encoder.fidelity, reference.model_ref)
    return encoder


def _running(reference: TorchEncoder, folder: Path, precision: str) -> OnnxEncoder:
    """The towers in ``folder`` in ONNX Runtime, imported only now (with its quantiser, some tens
    of MB): not beside the PyTorch model while it loads, the moment memory peaks."""
    from .encoder import OnnxEncoder

    return OnnxEncoder(reference, folder, precision)
