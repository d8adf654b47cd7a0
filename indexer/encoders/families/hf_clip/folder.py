"""Finding a transformers CLIP model's files: a local folder, or a Hub repository.

A transformers CLIP folder (PubMedCLIP's Hub repository, or any other of that layout) holds
``config.json`` with ``model_type: clip``, ``preprocessor_config.json``, the CLIP tokenizer files
(``vocab.json``, ``merges.txt``, ``tokenizer_config.json``, ``special_tokens_map.json``) and the
weights (``pytorch_model.bin`` or ``model.safetensors``). Hub repositories are named
``hf-clip:<owner>/<name>``, so that a reference says which family loads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ....errors import ModelUnavailableError
from ...model_files import has_random_weights, hub_failure, hub_unreachable, offline_help

PUBMEDCLIP_HUB_ID = "flaviagiammarino/pubmed-clip-vit-base-patch32"
HF_CLIP_PREFIX = "hf-clip:"
CONFIG_FILE = "config.json"
PREPROCESSOR_FILE = "preprocessor_config.json"
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: what a folder must hold, for the offline help
REQUIRED_FILES = (
    f"{CONFIG_FILE}, {PREPROCESSOR_FILE}, pytorch_model.bin (or model.safetensors) and the "
    f"tokenizer files ({', '.join(TOKENIZER_FILES)})"
)


@dataclass(frozen=True)
class HfClipFolder:
    """The resolved files of one transformers CLIP model."""

    #: absolute folder path, or "hf-clip:<repo>"
    ref: str
    path: Path
    #: the parsed config.json
    config: dict[str, Any]
    weights: Path
    random_weights: bool


def is_hf_clip_folder(folder: Path) -> bool:
    """True when ``folder`` has a ``config.json`` of ``model_type`` ``clip``."""
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("model_type") == "clip"


def locate_hf_clip(model: str) -> HfClipFolder:
    """Resolve ``model`` (``hf-clip:`` id or folder path) to its files, or explain how."""
    if model.startswith(HF_CLIP_PREFIX):
        repo = model[len(HF_CLIP_PREFIX) :]
        return _read_folder(_download_from_hub(repo), ref=model, repo=repo)
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ModelUnavailableError(f"model folder {folder} does not exist")
    folder = folder.resolve()
    return _read_folder(folder, ref=str(folder), repo="REPO")


def _read_folder(folder: Path, *, ref: str, repo: str) -> HfClipFolder:
    if not is_hf_clip_folder(folder):
        raise ModelUnavailableError(f"{folder} has no {CONFIG_FILE} of model_type 'clip'")
    weights = next((folder / n for n in WEIGHT_FILES if (folder / n).is_file()), None)
    if weights is None:
        raise ModelUnavailableError(
            f"{folder} has no weights ({' or '.join(WEIGHT_FILES)}); MedSearch never falls back "
            "to random weights. " + offline_help(repo, REQUIRED_FILES)
        )
    missing = [n for n in (PREPROCESSOR_FILE, *TOKENIZER_FILES[:2]) if not (folder / n).is_file()]
    if missing:
        raise ModelUnavailableError(
            f"{folder} lacks {', '.join(missing)}. " + offline_help(repo, REQUIRED_FILES)
        )
    return HfClipFolder(
        ref=ref,
        path=folder,
        config=json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8")),
        weights=weights,
        random_weights=has_random_weights(folder),
    )


def _download_from_hub(repo: str) -> Path:
    """The Hub snapshot folder of ``repo`` (from the local cache when the Hub is out of reach)."""
    unreachable = hub_unreachable()
    try:
        from huggingface_hub import snapshot_download

        wanted = [CONFIG_FILE, PREPROCESSOR_FILE, *TOKENIZER_FILES, *WEIGHT_FILES]
        local_only = unreachable is not None
        return Path(snapshot_download(repo, allow_patterns=wanted, local_files_only=local_only))
    except Exception as exc:  # noqa: BLE001 - any hub failure means "not reachable"
        raise hub_failure(repo, exc, unreachable, REQUIRED_FILES) from exc
