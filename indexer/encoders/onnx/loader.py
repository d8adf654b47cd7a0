"""Loading a model on a runtime of exported towers: export (cached), quantise (cached), check, run.

Every such runtime (ONNX Runtime here, OpenVINO in :mod:`indexer.encoders.openvino`) is an
:class:`ExportedRuntime`: its name, the package whose version keys its cache, how it quantises the
fp32 towers and how it runs a folder of towers. :func:`load_exported` does the rest the same way
for all of them.

fp32 runs the exported towers as they are; int8 needs images of the corpus (a
:class:`~.calibration.Calibration`) to calibrate the image tower when it is made, and to check it,
against the fp32 PyTorch model, every time it is loaded (:mod:`.fidelity`). The PyTorch model
embeds the check's images and texts first and is let go before the runtime's towers load, so the
two are never in memory together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...errors import InvalidRequestError, ModelUnavailableError
from ..family import ImportedOnCall
from ..runtime.freed_memory import return_freed_memory
from ..runtime.packed_linear import plain_linear_layers
from ..runtime.torch_encoder import TorchEncoder
from .calibration import Calibration
from .export import cache_folder, cached, default_cache, export_towers
from .fidelity import compare_with_reference, reference_embeddings, require_faithful

if TYPE_CHECKING:
    from .exported_encoder import ExportedEncoder

PRECISIONS = ("fp32", "int8")

#: makes the int8 towers: (fp32 folder, int8 folder to fill, calibration pixels [n, 3, H, W])
Quantiser = Callable[[Path, Path, np.ndarray], None]
#: runs the towers of a folder: (PyTorch encoder whose preprocessing is shared, folder, precision)
Running = Callable[[TorchEncoder, Path, str], "ExportedEncoder"]


@dataclass(frozen=True)
class ExportedRuntime:
    """A runtime of exported towers. ``quantise`` and ``running`` import the runtime only when
    called (:class:`~indexer.encoders.family.ImportedOnCall`): never beside the PyTorch model
    while it loads, the moment memory peaks."""

    #: the ``--runtime`` name
    name: str
    #: the installed distribution whose version names the cache folder (``<package>-<version>``)
    package: str
    quantise: Quantiser
    running: Running


def load_exported(
    runtime: ExportedRuntime,
    model: str,
    *,
    device: str,
    precision: str,
    trust_remote_code: bool,
    cache: Path | None,
    calibration: Calibration | None,
    compile_images: bool = False,
) -> ExportedEncoder:
    """The encoder of ``model`` at ``precision`` (auto: fp32) on the CPU in ``runtime``; the towers
    are compiled by the runtime whatever ``compile_images`` says."""
    from ..runtimes import load_torch  # the torch runtime, whose preprocessing is shared

    name = runtime.name
    if device == "cuda":
        raise InvalidRequestError(f"the {name} runtime runs on the CPU: use --device cpu or auto")
    precision = "fp32" if precision == "auto" else precision
    if precision not in PRECISIONS:
        raise InvalidRequestError(
            f"the {name} runtime runs fp32 or int8, not {precision}; for {precision} use "
            "--runtime torch"
        )
    if precision == "int8" and calibration is None:
        raise InvalidRequestError(
            "int8 is calibrated and checked on images of the corpus: index a folder, or open an "
            f"index, with --runtime {name} --precision int8"
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
        cache_folder(root, reference.fingerprint, "fp32", runtime.package),
        lambda folder: export_towers(reference, folder),
    )
    if precision == "fp32":
        reference.release_weights()
        return_freed_memory()
        return runtime.running(reference, fp32, "fp32")
    assert calibration is not None
    # The fp32 model's own figures first: then it goes, before the int8 towers are made or loaded,
    # so that the two are never in memory together (int8 peaks no higher than bf16).
    expected = reference_embeddings(reference, calibration)
    reference.release_weights()
    return_freed_memory()

    def quantise(folder: Path) -> None:
        if not expected.prepared:
            raise InvalidRequestError(
                "int8 is calibrated on images of the corpus, and it has no readable image yet: "
                "index some images with the default runtime first, or add images"
            )
        pixels = np.ascontiguousarray(
            np.stack([p.numpy() for p in reference.pixels(list(expected.prepared))]),
            dtype=np.float32,
        )
        runtime.quantise(fp32, folder, pixels)

    int8 = cached(cache_folder(root, reference.fingerprint, "int8", runtime.package), quantise)
    return_freed_memory()  # what calibrating the image tower held
    encoder = runtime.running(reference, int8, "int8")
    encoder.fidelity = compare_with_reference(encoder, expected, calibration)
    require_faithful(encoder.fidelity, reference.model_ref)
    return encoder


ONNX_RUNTIME = ExportedRuntime(
    name="onnx",
    package="onnxruntime",
    quantise=ImportedOnCall("indexer.encoders.onnx.quantize", "quantize_towers"),
    running=ImportedOnCall("indexer.encoders.onnx.encoder", "OnnxEncoder"),
)


#: the encoder of a model in ONNX Runtime (:func:`load_exported`)
load_onnx = partial(load_exported, ONNX_RUNTIME)
