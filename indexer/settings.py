"""One frozen settings object for every front end.

Values come from ``MEDSEARCH_*`` environment variables (:meth:`Settings.from_env`); CLI flags
override them with :meth:`Settings.replace`; tests build :class:`Settings` directly.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
IndexType = Literal["auto", "flat", "hnsw", "ivf"]

DEFAULT_MODEL = "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"

_ENV_PREFIX = "MEDSEARCH_"


@dataclass(frozen=True)
class Settings:
    """Everything that can be configured. Field ``x`` is read from ``MEDSEARCH_X``."""

    #: index folder (index.faiss, meta.sqlite, vectors, index_info.json)
    index_dir: Path = Path("data/index")
    #: model to index with: "biomedclip", an "hf-hub:" id or a local model folder
    model: str = DEFAULT_MODEL
    device: Device = "auto"
    precision: Precision = "auto"
    #: images per model call and per transaction (a CPU runs each call in slices of 8 images)
    batch_size: int = 32
    #: compile the image tower for indexing (20-30 s to start; needs g++; see docs/benchmarks.md)
    compile: bool = False
    #: decoding threads feeding the model
    workers: int = 2
    index_type: IndexType = "auto"
    #: largest image accepted, in pixels (decompression bomb guard)
    max_image_pixels: int = 178_956_970
    #: largest upload accepted by the service, in bytes
    max_upload_bytes: int = 20 * 1024 * 1024
    #: bearer token required on /api/ routes (but health) when set
    api_token: str | None = None
    #: largest k a query may ask for
    max_k: int = 1000
    #: service threads (waitress)
    threads: int = 8
    #: seconds between checks for a newly published index in the service
    reload_interval: float = 2.0
    #: folder for rendered thumbnails; defaults to <index_dir>/thumbnails
    thumbnail_dir: Path | None = None

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied; ``None`` values are ignored (unset CLI flags)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``MEDSEARCH_*`` variables, defaults for the rest."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = env.get(_ENV_PREFIX + field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, str(field.type), raw)
        return cls(**values)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _parse(name: str, type_name: str, raw: str) -> Any:
    if type_name.startswith("bool"):
        if raw.strip().lower() in _TRUE + _FALSE:
            return raw.strip().lower() in _TRUE
        raise ValueError(f"{_ENV_PREFIX}{name.upper()}={raw!r} is not one of 1/0, true/false")
    try:
        if "Path" in type_name:
            return Path(raw)
        if type_name.startswith("int"):
            return int(raw)
        if type_name.startswith("float"):
            return float(raw)
    except ValueError as exc:
        raise ValueError(f"{_ENV_PREFIX}{name.upper()}={raw!r} is not a valid {type_name}") from exc
    return raw
