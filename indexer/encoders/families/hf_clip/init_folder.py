"""Writing a randomly initialised PubMedCLIP folder (transformers CLIP ViT-B/32), with no network.

The folder has the files of the Hub repository ``flaviagiammarino/pubmed-clip-vit-base-patch32``:
``config.json``, ``preprocessor_config.json``, the CLIP tokenizer files and ``pytorch_model.bin``.
``CLIPTokenizer`` reads ``vocab.json`` and ``merges.txt``; both are derived from the byte-pair table
open_clip ships (``bpe_simple_vocab_16e6.txt.gz``, OpenAI's CLIP vocabulary), in the order and
form OpenAI's own CLIP repositories on the Hub have them. ``full`` is ViT-B/32 at CLIP's widths
(151,277,313 parameters); ``tiny`` keeps patch 32 at 224 px and the 49,408-token vocabulary at
small widths, for tests.
"""

from __future__ import annotations

import gzip
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch

#: merges of CLIP's byte-pair encoding: all but the 256 byte tokens, their 256 word-final
#: forms and the two special tokens of its 49,408-token vocabulary
_MERGES = 49152 - 256 - 2
START, END = "<|startoftext|>", "<|endoftext|>"
CONTEXT_LENGTH = 77
WEIGHTS_FILE = "pytorch_model.bin"
#: OpenAI CLIP's image normalisation
_MEAN = [0.48145466, 0.4578275, 0.40821073]
_STD = [0.26862954, 0.26130258, 0.27577711]

_TINY_TEXT = {
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
}
_TINY_VISION = {
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
}
_TINY_PROJECTION = 128


def write_pubmedclip_folder(folder: Path, size: str, seed: int) -> int:
    """Write the config, preprocessing, tokenizer and random weights; return the parameter count."""
    from transformers import CLIPConfig, CLIPModel

    tiny = size == "tiny"
    config = CLIPConfig(
        text_config={"max_position_embeddings": CONTEXT_LENGTH, **(_TINY_TEXT if tiny else {})},
        vision_config={"patch_size": 32, "image_size": 224, **(_TINY_VISION if tiny else {})},
        projection_dim=_TINY_PROJECTION if tiny else 512,
    )
    config.architectures = ["CLIPModel"]
    torch.manual_seed(seed)
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = CLIPModel(config).eval()
    finally:
        logging.disable(logging.NOTSET)
    config.to_json_file(str(folder / "config.json"))
    torch.save(model.state_dict(), folder / WEIGHTS_FILE)
    _write_json(folder / "preprocessor_config.json", _preprocessor_config())
    write_clip_tokenizer(folder)
    return sum(p.numel() for p in model.parameters())


def _preprocessor_config() -> dict[str, Any]:
    return {
        "crop_size": {"height": 224, "width": 224},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": _MEAN,
        "image_processor_type": "CLIPImageProcessor",
        "image_std": _STD,
        "processor_class": "CLIPProcessor",
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": 224},
    }


def write_clip_tokenizer(folder: Path) -> None:
    """``vocab.json``, ``merges.txt``, ``tokenizer_config.json`` and ``special_tokens_map.json``."""
    from open_clip.tokenizer import bytes_to_unicode, default_bpe

    with gzip.open(default_bpe(), "rt", encoding="utf-8") as table:
        merges = table.read().split("\n")[1 : _MERGES + 1]  # line 0 is the table's header
    byte_tokens = list(bytes_to_unicode().values())
    tokens = [
        *byte_tokens,
        *(token + "</w>" for token in byte_tokens),
        *("".join(merge.split()) for merge in merges),
        START,
        END,
    ]
    _write_json(folder / "vocab.json", {token: rank for rank, token in enumerate(tokens)})
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8"
    )
    special = {"bos_token": START, "eos_token": END, "pad_token": END, "unk_token": END}
    _write_json(folder / "special_tokens_map.json", special)
    _write_json(
        folder / "tokenizer_config.json",
        {
            **special,
            "add_prefix_space": False,
            "do_lower_case": True,
            "errors": "replace",
            "model_max_length": CONTEXT_LENGTH,
            "processor_class": "CLIPProcessor",
            "tokenizer_class": "CLIPTokenizer",
        },
    )


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
