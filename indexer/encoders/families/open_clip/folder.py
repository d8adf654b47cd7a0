"""Finding an open_clip model's files: a local folder, or the Hugging Face Hub (cache or download).

An open_clip model folder holds ``open_clip_config.json`` (for BiomedCLIP either revision of its
config) and the weights (``open_clip_pytorch_model.bin`` or a ``.safetensors`` file). A model with a
Hugging Face text tower (BiomedCLIP's PubMedBERT) also holds that tower's tokenizer files and,
optionally, its config (``text-encoder-config.json`` or ``config.json``); open_clip's own text
transformer needs neither.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ....errors import ModelUnavailableError
from ...model_files import (
    has_random_weights,
    hub_failure,
    hub_unreachable,
    model_not_found,
    offline_help,
)

BIOMEDCLIP_HUB_ID = "microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"
HUB_PREFIX = "hf-hub:"
#: short names accepted by ``--model``
MODEL_ALIASES = {"biomedclip": HUB_PREFIX + BIOMEDCLIP_HUB_ID}

CONFIG_FILE = "open_clip_config.json"
WEIGHT_FILES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
)
TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
TEXT_CONFIG_FILES = ("text-encoder-config.json", "config.json")
#: names the BiomedCLIP text tower has had on the Hub (current and earlier revision)
BIOMEDCLIP_TEXT_TOWERS = (
    "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract",
    "microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract",
)
# Keys of the earlier config revision, renamed in open_clip 2.23 (which rejects the old ones).
_RENAMED_TEXT_KEYS = {"proj": "hf_proj_type", "pooler_type": "hf_pooler_type"}

#: what an open_clip model folder must hold, for the offline help
OPEN_CLIP_FILES = (
    "open_clip_config.json, open_clip_pytorch_model.bin (or a .safetensors file) and, for a "
    "Hugging Face text tower such as BiomedCLIP's, its tokenizer files (vocab.txt, tokenizer.json, "
    "tokenizer_config.json, special_tokens_map.json)"
)


@dataclass(frozen=True)
class ModelFolder:
    """The resolved files of one model."""

    #: what the user asked for, normalised (absolute folder path or "hf-hub:<repo>")
    ref: str
    path: Path
    #: open_clip config in the current revision's keys ({"model_cfg", "preprocess_cfg"})
    config: dict[str, Any]
    weights: Path
    #: JSON file with the Hugging Face text tower's config (None: open_clip's own text tower)
    text_config: Path | None
    random_weights: bool


def packaged_asset(name: str) -> Path:
    """A file shipped with MedSearch under ``indexer/assets/biomedclip``."""
    return Path(str(resources.files("indexer") / "assets" / "biomedclip" / name))


def normalize_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Accept both revisions of ``open_clip_config.json``; return the current one (a copy)."""
    if "model_cfg" not in raw or "text_cfg" not in raw["model_cfg"]:
        raise ModelUnavailableError(f"{CONFIG_FILE} has no model_cfg.text_cfg section")
    config = copy.deepcopy(raw)
    text_cfg = config["model_cfg"]["text_cfg"]
    for old, new in _RENAMED_TEXT_KEYS.items():
        if old in text_cfg:
            text_cfg.setdefault(new, text_cfg.pop(old))
            text_cfg.pop(old, None)
    config.setdefault("preprocess_cfg", {})
    return config


def locate_model(model: str) -> ModelFolder:
    """Resolve ``model`` (alias, ``hf-hub:`` id or folder path) to its files, or explain how."""
    model = MODEL_ALIASES.get(model, model)
    if model.startswith(HUB_PREFIX):
        repo = model[len(HUB_PREFIX) :]
        unreachable = hub_unreachable()
        snapshot = _download_from_hub(repo, unreachable)
        return _read_folder(snapshot, ref=model, via_hub=unreachable is None)
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise model_not_found(model, MODEL_ALIASES)
    folder = folder.resolve()
    return _read_folder(folder, ref=str(folder), via_hub=False)


def _read_folder(folder: Path, ref: str, via_hub: bool) -> ModelFolder:
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ModelUnavailableError(f"{folder} has no {CONFIG_FILE}: it is not a model folder")
    try:
        config = normalize_config(json.loads(config_path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise ModelUnavailableError(f"{config_path} is not valid JSON: {exc}") from exc
    weights = next((folder / n for n in WEIGHT_FILES if (folder / n).is_file()), None)
    if weights is None:
        raise ModelUnavailableError(
            f"{folder} has no weights ({' or '.join(WEIGHT_FILES)}); MedSearch never falls back "
            "to random weights. " + offline_help(_hub_repo(ref), OPEN_CLIP_FILES)
        )
    if _has_hf_text_tower(config):
        missing = [n for n in ("vocab.txt", "tokenizer_config.json") if not (folder / n).is_file()]
        if missing:
            raise ModelUnavailableError(f"{folder} lacks tokenizer files: {', '.join(missing)}")
    return ModelFolder(
        ref=ref,
        path=folder,
        config=config,
        weights=weights,
        text_config=_text_config(folder, config, via_hub),
        random_weights=has_random_weights(folder),
    )


def _hub_repo(ref: str) -> str:
    """The Hub repository ``ref`` was loaded from, or a placeholder for a local folder's."""
    return ref[len(HUB_PREFIX) :] if ref.startswith(HUB_PREFIX) else "REPO"


def _has_hf_text_tower(config: dict[str, Any]) -> bool:
    return bool(config["model_cfg"]["text_cfg"].get("hf_model_name"))


def _text_config(folder: Path, config: dict[str, Any], via_hub: bool) -> Path | None:
    if not _has_hf_text_tower(config):
        return None
    for name in TEXT_CONFIG_FILES:
        candidate = folder / name
        if candidate.is_file() and _is_bert_config(candidate):
            return candidate
    tower = config["model_cfg"]["text_cfg"].get("hf_model_name", "")
    from_hub = _text_config_from_hub(tower, download=via_hub)
    if from_hub is not None:
        return from_hub
    if tower in BIOMEDCLIP_TEXT_TOWERS:
        # The Hub repo of BiomedCLIP lacks the BERT config; MedSearch ships the real one.
        return packaged_asset("text-encoder-config.json")
    raise ModelUnavailableError(
        f"{folder} has no config of its Hugging Face text tower {tower!r} "
        f"({' or '.join(TEXT_CONFIG_FILES)}) and the Hub cache holds none: copy that tower's "
        f"config.json into the folder as {TEXT_CONFIG_FILES[0]}, or load the model once where "
        "the Hub can be reached"
    )


def _text_config_from_hub(tower: str, *, download: bool) -> Path | None:
    """The text tower's own config from its Hub repo, as open_clip gets it.

    Local folders only look in the Hub cache (no network); hub ids may download.
    """
    if not tower or Path(tower).exists():
        return None
    try:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache

        if download:
            return Path(hf_hub_download(tower, "config.json"))
        cached = try_to_load_from_cache(tower, "config.json")
        return Path(cached) if isinstance(cached, str) else None
    except Exception:  # noqa: BLE001 - unreachable or unknown: the caller has a fallback
        return None


def _is_bert_config(path: Path) -> bool:
    try:
        return "model_type" in json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


def _download_from_hub(repo: str, unreachable: str | None) -> Path:
    """The Hub snapshot folder of ``repo`` (from the local cache only when ``unreachable``)."""
    try:
        from huggingface_hub import hf_hub_download

        def fetch(name: str) -> str:
            return str(hf_hub_download(repo, name, local_files_only=unreachable is not None))

        config_file = Path(fetch(CONFIG_FILE))
        for name in WEIGHT_FILES[::-1]:
            try:
                fetch(name)
                break
            except Exception:  # noqa: BLE001 - try the next weight file name
                continue
        config = normalize_config(json.loads(config_file.read_text(encoding="utf-8")))
        for name in TOKENIZER_FILES if _has_hf_text_tower(config) else ():
            fetch(name)
    except ModelUnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001 - any hub failure means "not reachable"
        raise hub_failure(repo, exc, unreachable, OPEN_CLIP_FILES) from exc
    return config_file.parent
