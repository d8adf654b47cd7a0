"""Writing a randomly initialised model folder of a registered architecture, with no network.

``full`` has exactly the real model's architecture (same compute as the real weights, for
benchmarks); ``tiny`` keeps its structure at small widths, for tests. Each architecture's family
writes the files (:attr:`~.family.EncoderFamily.architectures`): the layout of the model's Hub
repository, loadable with the model card's own recipe. This module checks the request and adds the
marker (:data:`~.model_files.MARKER_FILE`) saying the weights are random.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InvalidRequestError
from .model_files import MARKER_FILE
from .registry import architecture, registered_architectures


def init_model_folder(
    folder: Path, *, arch: str | None = None, size: str = "tiny", seed: int = 0
) -> dict[str, Any]:
    """Write a random-weight model folder; return what its marker file records.

    ``arch`` defaults to the first registered architecture (``biomedclip``).
    """
    arch = arch or registered_architectures()[0]
    writer = architecture(arch)
    if size not in writer.sizes:
        raise InvalidRequestError(f"unknown size {size!r}: use {' or '.join(writer.sizes)}")
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InvalidRequestError(f"{folder} exists and is not empty; choose a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    parameters = writer.write(folder, size, seed)
    marker = {
        "random_weights": True,
        "arch": arch,
        "size": size,
        "seed": seed,
        "parameters": parameters,
        "note": "Randomly initialised by `medsearch model init`: same architecture and compute "
        "as the real model, meaningless embeddings. For tests and benchmarks only.",
    }
    (folder / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return marker
