"""A model family from outside MedSearch, declared as a plug-in package would declare one.

Its folders hold ``random_vectors.json`` (the vectors' dimension), its encoder answers vector
queries only, and ``medsearch model init --arch random-vectors`` writes such a folder. Registering
it is the one line ``register_family(FAMILY)``; nothing else in MedSearch changes.
"""

from __future__ import annotations

import json
from pathlib import Path

from indexer.encoders import Architecture, Encoder, EncoderFamily

MARKER = "random_vectors.json"
ARCH = "random-vectors"
#: dimension of the vectors of each size this family writes
DIMS = {"tiny": 4}


def _load(model: str, *, device: str, precision: str, compile_images: bool) -> Encoder:
    # imported when a model loads, as MedSearch's own families do, so declaring costs no torch
    from indexer.encoders.vector_only import VectorOnlyEncoder

    dim = json.loads((Path(model) / MARKER).read_text(encoding="utf-8"))["dim"]
    return VectorOnlyEncoder(dim)


def _write(folder: Path, size: str, seed: int) -> int:
    (folder / MARKER).write_text(json.dumps({"dim": DIMS[size], "seed": seed}), encoding="utf-8")
    return 0  # a model without weights


FAMILY = EncoderFamily(
    name="random_vectors",
    description=f"a folder with {MARKER}",
    matches=lambda folder: (folder / MARKER).is_file(),
    load=_load,
    architectures={ARCH: Architecture("vectors without a model", _write, sizes=tuple(DIMS))},
)
