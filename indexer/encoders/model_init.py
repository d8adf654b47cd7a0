"""Writing a randomly initialised model folder of a known architecture, with no network.

``full`` has exactly the real model's architecture (same compute as the real weights, for
benchmarks); ``tiny`` keeps its structure at small widths, for tests. The folder has the layout
of the model's Hub repository, loads with the model card's own recipe, and carries a marker
(``medsearch_model.json``) saying its weights are random.

* ``biomedclip`` (open_clip family): 195.9M parameters; tiny keeps timm ViT/16 at 224 with CLS
  pooling and a linear projection, and a BERT text tower with CLS pooling and an MLP projection.
  The real tokenizer is copied.
* ``pubmedclip`` (transformers CLIP family): see :mod:`.hf_clip_init`.
* ``conceptclip`` (transformers remote-code family): see :mod:`.conceptclip_init`.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import open_clip
import torch

from ..errors import InvalidRequestError
from .families.open_clip.folder import (
    CONFIG_FILE,
    MARKER_FILE,
    TOKENIZER_FILES,
    normalize_config,
    packaged_asset,
)

Size = Literal["tiny", "full"]
ARCHITECTURES = ("biomedclip", "pubmedclip", "conceptclip")
WEIGHTS_FILE = "open_clip_pytorch_model.bin"
TEXT_CONFIG_FILE = "text-encoder-config.json"

# Width overrides of the tiny variant (the full one uses the shipped configs unchanged).
_TINY_EMBED_DIM = 128
_TINY_VISION_MODEL = "vit_tiny_patch16_224"
_TINY_BERT = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 256,
}


def init_model_folder(
    folder: Path, *, arch: str = "biomedclip", size: Size = "tiny", seed: int = 0
) -> dict[str, Any]:
    """Write a random-weight model folder; return what its marker file records."""
    if arch not in ARCHITECTURES:
        raise InvalidRequestError(
            f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}"
        )
    if size not in ("tiny", "full"):
        raise InvalidRequestError(f"unknown size {size!r}: use tiny or full")
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InvalidRequestError(f"{folder} exists and is not empty; choose a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    parameters = _folder_writers()[arch](folder, size == "tiny", seed)
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


def _folder_writers() -> dict[str, Callable[[Path, bool, int], int]]:
    """Each architecture's folder writer: (empty folder, tiny, seed) -> parameter count."""
    from .families.conceptclip.init_folder import write_conceptclip_folder
    from .families.hf_clip.init_folder import write_pubmedclip_folder

    return {
        "biomedclip": lambda folder, tiny, seed: _write_biomedclip_folder(folder, tiny, seed),
        "pubmedclip": lambda folder, tiny, seed: write_pubmedclip_folder(
            folder, tiny=tiny, seed=seed
        ),
        "conceptclip": lambda folder, tiny, seed: write_conceptclip_folder(
            folder, "tiny" if tiny else "full", seed
        ),
    }


def _write_biomedclip_folder(folder: Path, tiny: bool, seed: int) -> int:
    config = normalize_config(json.loads(packaged_asset(CONFIG_FILE).read_text(encoding="utf-8")))
    bert = json.loads(packaged_asset(TEXT_CONFIG_FILE).read_text(encoding="utf-8"))
    if tiny:
        config["model_cfg"]["embed_dim"] = _TINY_EMBED_DIM
        config["model_cfg"]["vision_cfg"]["timm_model_name"] = _TINY_VISION_MODEL
        bert.update(_TINY_BERT)
    for name in TOKENIZER_FILES:
        shutil.copyfile(packaged_asset(name), folder / name)
    shutil.copyfile(packaged_asset("LICENSE.md"), folder / "LICENSE.md")
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (folder / TEXT_CONFIG_FILE).write_text(json.dumps(bert, indent=2) + "\n", encoding="utf-8")

    model = _random_model(folder, config, seed)
    torch.save(model.state_dict(), folder / WEIGHTS_FILE)
    return sum(p.numel() for p in model.parameters())


def _random_model(folder: Path, config: dict[str, Any], seed: int) -> torch.nn.Module:
    text_cfg = dict(config["model_cfg"]["text_cfg"])
    text_cfg["hf_model_name"] = str(folder / TEXT_CONFIG_FILE)
    text_cfg["hf_model_pretrained"] = False
    torch.manual_seed(seed)
    # open_clip logs "no weights found, initialised randomly": here that is the point
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = open_clip.create_model(
                f"local-dir:{folder}", text_cfg=text_cfg, load_weights=False, pretrained_text=False
            )
    finally:
        logging.disable(logging.NOTSET)
    return model
