"""Writing a randomly initialised ConceptCLIP model folder (``transformers`` remote-code layout).

The folder is laid out like the Hugging Face repository ``JerrryNie/ConceptCLIP``: ``config.json``
whose ``auto_map`` names configuration, modeling and processor modules that sit beside it,
``preprocessor_config.json``, WordPiece tokenizer files and ``model.safetensors``. The modules are
MedSearch's own implementation of the architecture (shipped in ``indexer/assets/conceptclip``); the
repository's own code is not available here. ``full`` builds the exact widths of
``ConceptCLIP-Pretraining.json`` (SigLIP So400m/14 at 384 px, PubMedBERT-base, 1152-d); ``tiny``
keeps every module at small widths and the same 384 px input, for tests.

The tokenizer files are the PubMedBERT-base uncased WordPiece vocabulary MedSearch ships with its
BiomedCLIP assets; ConceptCLIP's text tower is PubMedBERT abstract-fulltext. A random-weight folder
only needs a tokenizer of the right form; a real folder brings its own files, which MedSearch reads.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ..open_clip.folder import TOKENIZER_FILES, packaged_asset

CONFIG_FILE = "config.json"
PREPROCESSOR_FILE = "preprocessor_config.json"
WEIGHTS_FILE = "model.safetensors"
MODULES = {
    "AutoConfig": "configuration_conceptclip.ConceptCLIPConfig",
    "AutoModel": "modeling_conceptclip.ConceptCLIPModel",
    "AutoProcessor": "processing_conceptclip.ConceptCLIPProcessor",
}
#: the authors' retrieval evaluation: bicubic squash to 384 x 384, mean = std = 0.5, 77 tokens
IMAGE_SIZE = 384
IMAGE_MEAN = (0.5, 0.5, 0.5)
IMAGE_STD = (0.5, 0.5, 0.5)
CONTEXT_LENGTH = 77

_TINY_WIDTH = 64
_TINY: dict[str, Any] = {
    "embed_dim": _TINY_WIDTH,
    "vision_overrides": {"embed_dim": _TINY_WIDTH, "depth": 2, "num_heads": 2},
    "text_config": {
        "hidden_size": _TINY_WIDTH,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 256,
    },
}


def asset_module(name: str) -> Path:
    """One of the model's source files shipped under ``indexer/assets/conceptclip``."""
    return Path(str(resources.files("indexer") / "assets" / "conceptclip" / name))


def model_config(size: str) -> Any:
    """The ``ConceptCLIPConfig`` of the ``tiny`` or ``full`` variant, with its ``auto_map``."""
    from ....assets.conceptclip.configuration_conceptclip import ConceptCLIPConfig

    config = ConceptCLIPConfig(
        image_size=IMAGE_SIZE, context_length=CONTEXT_LENGTH, **(_TINY if size == "tiny" else {})
    )
    config.auto_map = dict(MODULES)
    config.architectures = ["ConceptCLIPModel"]
    return config


def build_model(size: str, seed: int) -> torch.nn.Module:
    """A randomly initialised model of the variant (seeded)."""
    from ....assets.conceptclip.modeling_conceptclip import ConceptCLIPModel

    torch.manual_seed(seed)
    return ConceptCLIPModel(model_config(size)).eval()


def write_conceptclip_folder(folder: Path, size: str, seed: int) -> int:
    """Write the folder's files into the empty ``folder``; return the parameter count."""
    for module in MODULES.values():
        name = module.split(".")[0] + ".py"
        shutil.copyfile(asset_module(name), folder / name)
    for name in TOKENIZER_FILES:
        shutil.copyfile(packaged_asset(name), folder / name)
    shutil.copyfile(packaged_asset("LICENSE.md"), folder / "tokenizer-LICENSE.md")
    config = model_config(size)
    config.to_json_file(str(folder / CONFIG_FILE), use_diff=True)
    _write_json(
        folder / PREPROCESSOR_FILE,
        {
            "processor_class": "ConceptCLIPProcessor",
            "auto_map": {"AutoProcessor": MODULES["AutoProcessor"]},
            "image_size": IMAGE_SIZE,
            "resize_mode": "squash",
            "resample": "bicubic",
            "image_mean": list(IMAGE_MEAN),
            "image_std": list(IMAGE_STD),
            "context_length": CONTEXT_LENGTH,
        },
    )
    model = build_model(size, seed)
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    return sum(p.numel() for p in model.parameters())


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
