"""One frozen, validated settings object for every front end.

Values come from ``MEDSEARCH_*`` environment variables (:meth:`Settings.from_env`); CLI flags
override them with :meth:`Settings.replace`; tests build :class:`Settings` directly. Every value
is checked when the object is built, whatever its source: a wrong one raises
:class:`~indexer.errors.SettingsError` naming the setting and what it accepts.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from .errors import SettingsError
from .sizes import DEFAULT_MAX_PIXELS, default_index_memory, format_size, parse_size

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
IndexType = Literal["auto", "flat", "hnsw", "ivf", "ivfsq", "ivfpq"]
#: indexing engines, one per entry of indexer.indexing.engines.ENGINES
EngineName = Literal["threaded", "ray"]

DEFAULT_MODEL = "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"

ENV_PREFIX = "MEDSEARCH_"


def _bounds(low: float, high: float | None = None) -> dict[str, Any]:
    """Field metadata: the value must lie in [low, high] (no upper bound when high is None)."""
    return {"bounds": (low, high)}


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
    batch_size: int = field(default=32, metadata=_bounds(1, 4096))
    #: compile the image tower for indexing (slow to start, needs g++; see docs/benchmarks.md)
    compile: bool = False
    #: allow models whose code ships in their folder (transformers remote code, e.g. ConceptCLIP)
    trust_remote_code: bool = False
    #: decoding threads feeding the model; with the ray engine, the most embedding actors
    workers: int = field(default=2, metadata=_bounds(1, 64))
    #: where indexing prepares and embeds: threads in this process, or a Ray cluster
    engine: EngineName = "threaded"
    #: Ray cluster to join ("auto", "HOST:6379" or "ray://HOST:10001"); unset: a local Ray
    ray_address: str | None = None
    #: GPUs each embedding actor of the ray engine holds (0: actors run on CPUs)
    gpus_per_worker: float = field(default=0.0, metadata=_bounds(0.0, 64.0))
    index_type: IndexType = "auto"
    #: bytes the ANN index may take in memory (a size such as 512M or 4G in the environment);
    #: bounds the type ``auto`` picks
    index_memory: int = field(
        default_factory=default_index_memory, metadata={**_bounds(1 << 20), "size": True}
    )
    #: largest image accepted, in pixels (decompression bomb guard)
    max_image_pixels: int = field(default=DEFAULT_MAX_PIXELS, metadata=_bounds(1))
    #: largest upload accepted by the service, in bytes
    max_upload_bytes: int = field(default=20 * 1024 * 1024, metadata=_bounds(1))
    #: bearer token required on /api/ routes (but health) when set
    api_token: str | None = None
    #: seconds a browser stays signed in after POST /api/session
    session_ttl: float = field(default=12 * 3600.0, metadata=_bounds(60.0, 7 * 86_400.0))
    #: wrong tokens one client address may send within auth_failure_window before a 429
    auth_failures: int = field(default=10, metadata=_bounds(1, 100_000))
    #: seconds over which wrong tokens are counted (the wait after too many)
    auth_failure_window: float = field(default=60.0, metadata=_bounds(1.0, 86_400.0))
    #: origins allowed to call the API from another site's pages, comma-separated (CORS);
    #: unset: none, the browser's same-origin rule applies
    cors_origins: str | None = None
    #: largest k a query may ask for
    max_k: int = field(default=1000, metadata=_bounds(1, 100_000))
    #: service threads (waitress)
    threads: int = field(default=8, metadata=_bounds(1, 1024))
    #: seconds between checks for a newly published index in the service
    reload_interval: float = field(default=2.0, metadata=_bounds(0.0, 86_400.0))
    #: folder for rendered thumbnails; defaults to <index_dir>/thumbnails
    thumbnail_dir: Path | None = None
    #: store DICOM Series/Study Description (free text that may carry patient data)
    keep_descriptions: bool = False
    #: run Tesseract over DICOM images that may carry burned-in text, to settle yes/no
    ocr_burned_in: bool = False
    #: the service withholds thumbnails and files of images flagged burned_in_annotation=yes
    hide_burned_in: bool = False
    #: viewer link of a PACS image, with {study_uid} and {series_uid} placeholders
    viewer_url: str | None = None
    #: DICOMweb credentials: a bearer token, or a user and password (environment only)
    dicomweb_token: str | None = field(default=None, repr=False)
    dicomweb_user: str | None = None
    dicomweb_password: str | None = field(default=None, repr=False)
    #: most disk space the thumbnail and DICOM renderings may take, in MiB (oldest unused go first)
    thumbnail_cache_mb: int = field(default=1024, metadata=_bounds(1, 100_000))

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            _check(spec, getattr(self, spec.name), spec.name)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied; ``None`` values are ignored (unset CLI flags)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``MEDSEARCH_*`` variables, defaults for the rest.

        Raises :class:`~indexer.errors.SettingsError` naming the first variable that is wrong.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            name = ENV_PREFIX + spec.name.upper()
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            value = _parse(spec, raw.strip(), name)
            _check(spec, value, f"{name}={raw!r}")
            values[spec.name] = value
        return cls(**values)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@functools.cache
def _field_types() -> dict[str, tuple[Any, bool]]:
    """Each field's type, with ``X | None`` reduced to ``X``, and whether it may be None."""
    types_by_name = {}
    for name, hint in get_type_hints(Settings).items():
        optional = get_origin(hint) in (Union, types.UnionType)
        if optional:
            hint = next(arg for arg in get_args(hint) if arg is not type(None))
        types_by_name[name] = (hint, optional)
    return types_by_name


def _parse(spec: dataclasses.Field[Any], raw: str, name: str) -> Any:
    """Text of an environment variable -> the field's type."""
    kind, _ = _field_types()[spec.name]
    if spec.metadata.get("size"):
        try:
            return parse_size(raw)
        except SettingsError:
            raise SettingsError(f"{name}={raw!r} is not a size such as 512M or 4G") from None
    if kind is bool:
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise SettingsError(f"{name}={raw!r} is not one of 1/0, true/false, yes/no, on/off")
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise SettingsError(f"{name}={raw!r} is not {noun}{_accepts(spec)}") from None
    if kind is Path:
        return Path(raw)
    return raw


def _check(spec: dataclasses.Field[Any], value: Any, shown: str) -> None:
    """Raise SettingsError unless ``value`` is acceptable for the field (``shown`` names it)."""
    kind, optional = _field_types()[spec.name]
    if value is None:
        if optional:
            return
        raise SettingsError(f"{shown} must be set")
    if get_origin(kind) is Literal:
        if value not in get_args(kind):
            raise SettingsError(f"{shown} is not one of {', '.join(get_args(kind))}")
        return
    if kind is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{shown} must be true or false")
        return
    if kind in (int, float):
        number_types = (int,) if kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, number_types):
            raise SettingsError(f"{shown} must be a number{_accepts(spec)}")
        low, high = spec.metadata.get("bounds", (-math.inf, None))
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            raise SettingsError(f"{shown} is out of range{_accepts(spec)}")
        return
    if kind is Path:
        if not isinstance(value, Path) or str(value) == "":
            raise SettingsError(f"{shown} must be a folder path")
        if value.exists() and not value.is_dir():
            raise SettingsError(f"{shown} is a file; it must be a folder")
        return
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{shown} must be a non-empty text")


def _accepts(spec: dataclasses.Field[Any]) -> str:
    bounds = spec.metadata.get("bounds")
    if bounds is None:
        return ""
    low, high = bounds
    if spec.metadata.get("size"):
        return f" (accepts a size of {format_size(int(low))} or more, such as 512M or 4G)"
    return f" (accepts {low:g} or more)" if high is None else f" (accepts {low:g} to {high:g})"
