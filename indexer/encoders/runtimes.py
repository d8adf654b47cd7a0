"""The runtimes a model's towers can run in: PyTorch (any device and precision but int8), ONNX
Runtime (the CPU, fp32 or int8; :mod:`.onnx`) and OpenVINO (the same; :mod:`.openvino`).
Preprocessing, tokenisation and the family registry are the same in all; a runtime is only how the
towers run. Another runtime is one entry here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InvalidRequestError, UntrustedModelCodeError
from .family import ImportedOnCall
from .registry import expand_alias, family_for

if TYPE_CHECKING:
    from .base import Encoder
    from .onnx.calibration import Calibration


class RuntimeLoader(Protocol):
    """Loads one model (alias or reference) in a runtime."""

    def __call__(
        self,
        model: str,
        *,
        device: str,
        precision: str,
        compile_images: bool,
        trust_remote_code: bool,
        cache: Path | None,
        calibration: Calibration | None,
    ) -> Encoder: ...


def load_torch(
    model: str,
    *,
    device: str,
    precision: str,
    compile_images: bool,
    trust_remote_code: bool,
    **_: Any,
) -> Encoder:
    """The model's own family loads it into PyTorch (see :func:`indexer.encoders.load_encoder`)."""
    if precision == "int8":
        raise InvalidRequestError(
            "int8 runs on the onnx or openvino runtime only: add --runtime onnx or --runtime "
            "openvino (MEDSEARCH_RUNTIME), or use bf16 or fp32 with torch"
        )
    reference = expand_alias(model)
    family = family_for(reference)
    if family.runs_model_code and not trust_remote_code:
        raise UntrustedModelCodeError(
            f"the model {reference!r} is Python code shipped in its folder ({family.name} "
            "family): loading it runs that code with your permissions. MedSearch does that only "
            "when told to: pass --trust-remote-code or set MEDSEARCH_TRUST_REMOTE_CODE=1 if you "
            "trust where the folder comes from."
        )
    return family.load(reference, device=device, precision=precision, compile_images=compile_images)


RUNTIMES: dict[str, RuntimeLoader] = {
    "torch": load_torch,
    "onnx": ImportedOnCall("indexer.encoders.onnx.loader", "load_onnx"),
    "openvino": ImportedOnCall("indexer.encoders.openvino.loader", "load_openvino"),
}


def runtime_loader(name: str) -> RuntimeLoader:
    """The loader of the runtime called ``name``."""
    if name not in RUNTIMES:
        raise InvalidRequestError(f"unknown runtime {name!r}: use {', '.join(RUNTIMES)}")
    return RUNTIMES[name]
