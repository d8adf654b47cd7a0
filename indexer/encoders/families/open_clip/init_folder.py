"""Writing a randomly initialised BiomedCLIP folder (open_clip layout), with no network.

``full`` is BiomedCLIP's exact architecture (195.9M parameters); ``tiny`` keeps timm ViT/16 at 224
with CLS pooling and a linear projection, and a BERT text tower with CLS pooling and an MLP
projection, at small widths. The folder holds ``open_clip_config.json``, the text tower's
``text-encoder-config.json``, a copy of the real tokenizer and ``open_clip_pytorch_model.bin``.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

import open_clip
import torch

from .folder import CONFIG_FILE, TOKENIZER_FILES, normalize_config, packaged_asset

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


def write_biomedclip_folder(folder: Path, size: str, seed: int) -> int:
    """Write the config, tokenizer and random weights into ``folder``; return the parameters."""
    config = normalize_config(json.loads(packaged_asset(CONFIG_FILE).read_text(encoding="utf-8")))
    bert = json.loads(packaged_asset(TEXT_CONFIG_FILE).read_text(encoding="utf-8"))
    if size == "tiny":
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
