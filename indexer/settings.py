"""One frozen, validated settings object for every front end, declared once.

Values come from ``MEDSEARCH_*`` environment variables (:meth:`Settings.from_env`); CLI flags
override them with :meth:`Settings.replace`; tests build :class:`Settings` directly. Every value
is checked when the object is built, whatever its source: a wrong one raises
:class:`~indexer.errors.SettingsError` naming the setting and what it accepts.

Each field's declaration is the only description of its setting: its type (choices), default,
bounds and help text (field metadata, read through :func:`setting_specs`) drive the environment
variable, the command-line option that overrides it (:mod:`indexer.cli.setting_options`) and the
README's table of settings (:mod:`indexer.settings_doc`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_type_hints

from .setting_spec import SettingSpec, about, check_setting, describe_setting, parse_setting
from .sizes import DEFAULT_MAX_PIXELS, default_index_memory

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "fp32", "bf16", "fp16", "int8"]
#: runtimes, one per entry of indexer.encoders.runtimes.RUNTIMES
RuntimeName = Literal["torch", "onnx", "openvino"]
IndexType = Literal["auto", "flat", "hnsw", "ivf", "ivfsq", "ivfpq"]
#: indexing engines, one per entry of indexer.indexing.engines.ENGINES
EngineName = Literal["threaded", "ray"]

DEFAULT_MODEL = "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"


@dataclass(frozen=True)
class Settings:
    """Everything that can be configured. Field ``x`` is read from ``MEDSEARCH_X``."""

    index_dir: Path = field(
        default=Path("data/index"),
        metadata=about("Index folder (index.faiss, meta.sqlite, vectors, index_info.json)."),
    )
    model: str = field(
        default=DEFAULT_MODEL,
        metadata=about(
            "Model to index with: biomedclip, an hf-hub: id or a local model folder.",
            default_text="biomedclip",
        ),
    )
    device: Device = field(
        default="auto",
        metadata=about("Where the model runs (auto: CUDA when present, else the CPU)."),
    )
    precision: Precision = field(
        default="auto",
        metadata=about(
            "Numeric precision of the model (auto: bf16 where the hardware has it; fp32 on "
            "onnx and openvino). int8 runs on the onnx or openvino runtime only, checked against "
            "fp32 on the corpus."
        ),
    )
    runtime: RuntimeName = field(
        default="torch",
        metadata=about(
            "What runs the model's towers: PyTorch (torch), or on the CPU ONNX Runtime (onnx) or "
            "OpenVINO (openvino), fp32 or int8; the towers are exported once and cached."
        ),
    )
    onnx_cache: Path | None = field(
        default=None,
        metadata=about(
            "Folder of the exported and quantised towers, by model, runtime and its version.",
            default_text="~/.cache/medsearch/onnx",
            metavar="DIR",
        ),
    )
    batch_size: int = field(
        default=32,
        metadata=about(
            "Images per model call and per transaction (a CPU runs each call in slices of 8 "
            "images).",
            bounds=(1, 4096),
        ),
    )
    checkpoint_seconds: float = field(
        default=300.0,
        metadata=about(
            "Most seconds `medsearch index` goes without publishing what it has committed, so "
            "an interrupted or killed run stays searchable up to then.",
            bounds=(1.0, 86_400.0),
        ),
    )
    compile: bool = field(
        default=False,
        metadata=about(
            "Compile the image tower with torch.compile for indexing (fuses elementwise work; "
            "slow to start, needs a C++ compiler). Whether it pays off depends on the hardware: "
            "measure it with `medsearch bench index --compile` (see docs/benchmarks.md).",
            option="--compile/--no-compile",
        ),
    )
    trust_remote_code: bool = field(
        default=False,
        metadata=about(
            "Allow a model that is Python code shipped in its folder (ConceptCLIP): loading it "
            "runs that code. Only for folders from a source you trust."
        ),
    )
    workers: int = field(
        default=2,
        metadata=about(
            "Decoding threads feeding the model; with the ray engine, the most embedding actors "
            "(model replicas).",
            bounds=(1, 64),
        ),
    )
    engine: EngineName = field(
        default="threaded",
        metadata=about(
            "Where indexing decodes and embeds: threads in this process (threaded) or a Ray "
            "cluster (ray; decoding as Ray tasks, embedding in an actor pool)."
        ),
    )
    ray_address: str | None = field(
        default=None,
        metadata=about(
            "Ray cluster the ray engine joins: auto, HOST:6379 or ray://HOST:10001.",
            default_text="a local Ray on this machine",
            metavar="ADDRESS",
        ),
    )
    gpus_per_worker: float = field(
        default=0.0,
        metadata=about(
            "GPUs each embedding actor of the ray engine holds (0: actors run on CPUs).",
            bounds=(0.0, 64.0),
        ),
    )
    index_type: IndexType = field(
        default="auto",
        metadata=about(
            "ANN index (auto: exact up to 100,000 images, then the most exact type that fits "
            "the index memory; ivfsq and ivfpq are compressed and re-ranked exactly)."
        ),
    )
    index_memory: int = field(
        default_factory=default_index_memory,
        metadata=about(
            "Memory the ANN index may take, a size such as 512M or 4G; bounds the type auto picks.",
            bounds=(1 << 20, None),
            size=True,
            default_text="an eighth of the machine's RAM",
            metavar="SIZE",
        ),
    )
    slices: str = field(
        default="all",
        metadata=about(
            "Slices of each DICOM series to index: all, or N evenly spaced by position (the "
            "middle one always; a smaller N's slices are among a larger N's). The others are "
            "counted, not embedded; a later run with another N embeds or removes the difference.",
            bounds=(1, None),
            word="all",
            metavar="all|N",
        ),
    )
    max_image_pixels: int = field(
        default=DEFAULT_MAX_PIXELS,
        metadata=about(
            "Largest image accepted, in pixels (decompression bomb guard).", bounds=(1, None)
        ),
    )
    max_upload_bytes: int = field(
        default=20 * 1024 * 1024,
        metadata=about("Largest upload the service accepts, in bytes.", bounds=(1, None)),
    )
    api_token: str | None = field(
        default=None,
        metadata=about(
            "Bearer token the service requires on its /api/ routes (but health).",
            default_text="none, the API is open",
        ),
    )
    session_ttl: float = field(
        default=12 * 3600.0,
        metadata=about(
            "Seconds a browser stays signed in after POST /api/session.",
            bounds=(60.0, 7 * 86_400.0),
        ),
    )
    auth_failures: int = field(
        default=10,
        metadata=about(
            "Wrong tokens one client address may send within the auth failure window before a 429.",
            bounds=(1, 100_000),
        ),
    )
    auth_failure_window: float = field(
        default=60.0,
        metadata=about(
            "Seconds over which wrong tokens are counted (and the wait after too many).",
            bounds=(1.0, 86_400.0),
        ),
    )
    cors_origins: str | None = field(
        default=None,
        metadata=about(
            "Origins allowed to call the API from another site's pages, comma-separated (CORS).",
            default_text="none, the browser's same-origin rule applies",
        ),
    )
    fetch_image_urls: bool = field(
        default=False,
        metadata=about(
            "Let a clip-retrieval query's image_url make the service fetch that URL (http and "
            "https only, at most the upload limit, 10 s): a server that fetches URLs can be "
            "pointed at internal addresses, so only on a trusted network."
        ),
    )
    max_k: int = field(
        default=1000,
        metadata=about("Largest k a query may ask for.", bounds=(1, 100_000)),
    )
    threads: int = field(
        default=8,
        metadata=about("Request threads of the service (waitress).", bounds=(1, 1024)),
    )
    reload_interval: float = field(
        default=2.0,
        metadata=about(
            "Seconds between two checks of the service for a newly published index.",
            bounds=(0.0, 86_400.0),
        ),
    )
    thumbnail_dir: Path | None = field(
        default=None,
        metadata=about(
            "Folder for rendered thumbnails.", default_text="thumbnails/ in the index folder"
        ),
    )
    group_fields: str | None = field(
        default=None,
        metadata=about(
            "Metadata fields whose values group images (case, patient, study): each group gets "
            "a vector of its own for `level=group:FIELD` search. Several fields comma-separated, "
            "or the option repeated; DICOM series and study keys are group fields without it.",
            default_text="none",
            option="--group-field",
            metavar="FIELD",
            repeatable=True,
        ),
    )
    keep_descriptions: bool = field(
        default=False,
        metadata=about(
            "Store DICOM Series/Study Description (free text that may carry patient data)."
        ),
    )
    ocr_burned_in: bool = field(
        default=False,
        metadata=about(
            "Read DICOM images that may show burned-in text with Tesseract to settle yes/no."
        ),
    )
    hide_burned_in: bool = field(
        default=False,
        metadata=about(
            "The service withholds thumbnails and files of images flagged burned_in_annotation=yes."
        ),
    )
    viewer_url: str | None = field(
        default=None,
        metadata=about(
            "Viewer link of a PACS image, with {study_uid} and {series_uid} placeholders.",
            default_text="no viewer link",
        ),
    )
    dicomweb_token: str | None = field(
        default=None,
        repr=False,
        metadata=about("DICOMweb bearer token (environment only).", default_text="none"),
    )
    dicomweb_user: str | None = field(
        default=None,
        metadata=about(
            "DICOMweb user, with the DICOMweb password (environment only).", default_text="none"
        ),
    )
    dicomweb_password: str | None = field(
        default=None,
        repr=False,
        metadata=about("DICOMweb password (environment only).", default_text="none"),
    )
    dicomweb_retries: int = field(
        default=4,
        metadata=about(
            "Retries of a DICOMweb request that failed for a passing reason (HTTP 5xx or 429, a "
            "time-out, a dropped connection), with exponential back-off and Retry-After honoured.",
            bounds=(0, 20),
        ),
    )
    dicomweb_backoff: float = field(
        default=1.0,
        metadata=about(
            "Seconds before the first DICOMweb retry; each later one waits twice as long (at "
            "most 30 s, 120 s in all).",
            bounds=(0.0, 30.0),
        ),
    )
    dicomweb_timeout: float = field(
        default=60.0,
        metadata=about(
            "Seconds to wait for the PACS to connect or send data, per DICOMweb request.",
            bounds=(0.1, 3600.0),
        ),
    )
    pseudonym_key: str | None = field(
        default=None,
        repr=False,
        metadata=about(
            "Secret that keys the patient_key of DICOM instances (a keyed hash of PatientID); "
            "without it no patient key is stored. Environment only; never written anywhere.",
            default_text="none, no patient key",
        ),
    )
    thumbnail_cache_mb: int = field(
        default=1024,
        metadata=about(
            "Most disk space the thumbnail and DICOM renderings may take, in MiB (the oldest "
            "unused go first).",
            bounds=(1, 100_000),
        ),
    )

    def __post_init__(self) -> None:
        for spec in setting_specs():
            check_setting(spec, getattr(self, spec.name), spec.name)

    @property
    def slices_per_series(self) -> int | None:
        """:attr:`slices` as a number, None for ``all``."""
        return None if self.slices == "all" else int(self.slices)

    @property
    def group_field_names(self) -> tuple[str, ...]:
        """The fields of :attr:`group_fields`, each once, in the order given."""
        named = (name.strip() for name in (self.group_fields or "").split(","))
        return tuple(dict.fromkeys(name for name in named if name))

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
        for spec in setting_specs():
            raw = env.get(spec.variable)
            if raw is None or raw.strip() == "":
                continue
            value = parse_setting(spec, raw.strip())
            check_setting(spec, value, f"{spec.variable}={raw!r}")
            values[spec.name] = value
        return cls(**values)


@functools.cache
def setting_specs() -> tuple[SettingSpec, ...]:
    """Every setting, in declaration order."""
    hints = get_type_hints(Settings)
    return tuple(describe_setting(spec, hints[spec.name]) for spec in dataclasses.fields(Settings))


def setting_spec(name: str) -> SettingSpec:
    """The setting called ``name`` (a field of :class:`Settings`)."""
    for spec in setting_specs():
        if spec.name == name:
            return spec
    raise KeyError(f"no setting is called {name!r}")
