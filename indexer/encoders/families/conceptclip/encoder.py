"""ConceptCLIP (SigLIP So400m/14 at 384 px + PubMedBERT, 1152-d) via ``transformers`` remote code.

The model card loads ``JerrryNie/ConceptCLIP`` with ``AutoModel.from_pretrained(...,
trust_remote_code=True)``: the model is code that ships in the model folder. MedSearch cannot read
the Hub repository's code here, so this encoder depends only on the interface the model card and
the authors' retrieval evaluation (github.com/JerrryNie/ConceptCLIP,
``downstream_evaluation/cross_modal_retrieval``) use:

- images: a bicubic squash to 384 x 384, scaled to [0, 1], mean = std = 0.5, then
  ``model.encode_image(pixels)``, its first element when a tuple comes back (``image_features``
  when a dict does), L2-normalised;
- texts: the folder's WordPiece tokenizer (PubMedBERT), at most 77 tokens, then
  ``model.encode_text(input_ids)`` taken and normalised the same way;
- ``model.logit_scale`` (log temperature), which the card's zero-shot softmax scales by.

Running a folder's code is the user's decision: :func:`indexer.encoders.load_encoder` refuses it
unless asked with ``trust_remote_code`` (``--trust-remote-code``, ``MEDSEARCH_TRUST_REMOTE_CODE``).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ....errors import InvalidRequestError, ModelUnavailableError
from ...model_files import has_random_weights
from ...preparation import ImagePreparation, Squash
from ...runtime.torch_encoder import TorchEncoder
from .folder import locate_conceptclip

#: the authors' retrieval evaluation: bicubic squash to 384 x 384, mean = std = 0.5, 77 tokens
IMAGE_SIZE = 384
PIXEL_MEAN = 0.5
PIXEL_STD = 0.5
CONTEXT_LENGTH = 77
#: weight files a transformers folder may hold (single file or shards)
_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


class ConceptClipEncoder(TorchEncoder):
    """ConceptCLIP loaded from a folder (or Hub snapshot) whose code defines the model."""

    family = "conceptclip"
    name = "conceptclip"

    def __init__(
        self, folder: Path, *, model_ref: str, device: str = "auto", precision: str = "auto"
    ) -> None:
        self._start(model_ref, has_random_weights(folder), device, precision)
        self.image_size = IMAGE_SIZE
        self.model: Any
        self.model, self.tokenizer, self._logit_scale = self._model_thread.run(
            _load, folder, self.device, self._dtype
        )
        self._image_tower = self._image_features
        self.fingerprint = fingerprint(folder)
        self.dim = int(self._model_thread.run(self._encode_texts, [""]).shape[1])

    @property
    def logit_scale(self) -> float:
        return self._logit_scale

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return _normalize(torch.from_numpy(self.prepare(image)).unsqueeze(0))[0]

    @property
    def preparation(self) -> ImagePreparation:
        return ImagePreparation(self.image_size, Squash(self.image_size))

    def pixels(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        return _normalize(torch.from_numpy(np.stack(images)))

    def text_inputs(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        # Padded to the longest text of the batch; the text tower masks padding (id != pad id).
        tokens = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=CONTEXT_LENGTH,
            return_tensors="pt",
        )
        return {"input_ids": tokens["input_ids"]}

    def text_features(self, **inputs: torch.Tensor) -> torch.Tensor:
        return _first(self.model.encode_text(inputs["input_ids"]), "text_features")

    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return _first(self.model.encode_image(pixels), "image_features")


def _load(folder: Path, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any, float]:
    """The model (eval mode, on ``device`` in ``dtype``), its tokenizer and its logit scale."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a bar per load would mix into --json output
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # library deprecation chatter, not our concern
            model = AutoModel.from_pretrained(
                str(folder), trust_remote_code=True, dtype=torch.float32
            )
            tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=True)
    except (OSError, ValueError, ImportError, KeyError, AttributeError) as exc:
        raise ModelUnavailableError(f"cannot load the model in {folder}: {exc}") from exc
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()
    # read before a cast can round it
    logit_scale = float(model.logit_scale.exp().item())
    return model.eval().to(device, dtype=dtype), tokenizer, logit_scale


def load_conceptclip(
    model: str, *, device: str, precision: str, compile_images: bool
) -> ConceptClipEncoder:
    """The encoder for the Hub id :data:`.folder.HUB_ID` or a local folder (trust already
    granted)."""
    if compile_images:
        raise InvalidRequestError("--compile is not available for ConceptCLIP models")
    folder, model_ref = locate_conceptclip(model)
    return ConceptClipEncoder(folder, model_ref=model_ref, device=device, precision=precision)


def _first(output: Any, key: str) -> torch.Tensor:
    """The embedding in what ``encode_image``/``encode_text`` return, as the authors take it."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    elif isinstance(output, Mapping):
        output = output[key]
    if not isinstance(output, torch.Tensor):
        raise ModelUnavailableError(f"the model's encoder returned {type(output).__name__}")
    return output


def _normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 [n, H, W, 3] to the model's input [n, 3, H, W]."""
    return (images.permute(0, 3, 1, 2).float() / 255 - PIXEL_MEAN) / PIXEL_STD


def fingerprint(folder: Path) -> str:
    """Digest of the configuration, the code the folder ships, and the exact weight bytes."""
    digest = hashlib.sha256()
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.pop("transformers_version", None)
    digest.update(json.dumps(config, sort_keys=True).encode())
    digest.update(json.dumps([IMAGE_SIZE, PIXEL_MEAN, PIXEL_STD, CONTEXT_LENGTH]).encode())
    weights = sorted({p for pattern in _WEIGHT_PATTERNS for p in folder.glob(pattern)})
    if not weights:
        raise ModelUnavailableError(f"{folder} has no weights (model.safetensors or shards)")
    for path in sorted(folder.glob("*.py")) + weights:
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
    return "conceptclip-" + digest.hexdigest()[:24]


def card_embedder(model: str, device: torch.device) -> Callable[[Image.Image], torch.Tensor]:
    """The model card's recipe for one image: ``AutoProcessor`` then ``model.encode_image``.

    The stock model in fp32, loaded as the card loads it (the caller was trusted already).
    """
    from transformers import AutoModel, AutoProcessor

    folder, _ = locate_conceptclip(model)
    card_model = AutoModel.from_pretrained(str(folder), trust_remote_code=True).eval().to(device)
    processor = AutoProcessor.from_pretrained(str(folder), trust_remote_code=True)

    def embed(image: Image.Image) -> torch.Tensor:
        pixels = processor(images=image, return_tensors="pt")["pixel_values"].to(device)
        return _first(card_model.encode_image(pixels), "image_features")

    return embed
