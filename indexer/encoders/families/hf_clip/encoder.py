"""Transformers CLIP models (PubMedCLIP: a CLIP ViT-B/32 fine-tuned on ROCO radiology figures).

Loaded as the model card does, ``CLIPModel.from_pretrained`` and ``CLIPProcessor.from_pretrained``
on the folder; embeddings are ``get_image_features`` / ``get_text_features``, L2-normalised; the
zero-shot head is CLIP's softmax at the model's ``logit_scale``. Images are resized and cropped
with PIL (as the processor's own steps: shortest edge, bicubic, centre crop) so decoding threads
stay free of torch; the batch is rescaled and normalised on the model's thread.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from ....errors import ModelUnavailableError
from ...model_files import file_digest
from ...preparation import ImagePreparation, ShortestEdgeCrop
from ...runtime.compiled import CompiledTower
from ...runtime.packed_linear import can_pack, pack_linear_layers
from ...runtime.torch_encoder import TorchEncoder
from .folder import PREPROCESSOR_FILE, TOKENIZER_FILES, HfClipFolder, locate_hf_clip

#: config.json keys that say how a file was written, not what the model is
_PROVENANCE_KEYS = (
    "transformers_version",
    "_name_or_path",
    "architectures",
    "torch_dtype",
    "dtype",
)


class HfClipEncoder(TorchEncoder):
    """A transformers ``CLIPModel`` with its ``CLIPProcessor``."""

    family = "hf_clip"
    name = "clip"

    def __init__(
        self,
        folder: HfClipFolder,
        device: str = "auto",
        precision: str = "auto",
        compile_images: bool = False,
    ) -> None:
        self._start(folder.ref, folder.random_weights, device, precision)
        self.model: Any
        self.model, self.processor, self._logit_scale = self._model_thread.run(
            _build, folder, self.device, self._dtype, compile_images
        )
        steps = _image_steps(self.processor.image_processor)
        shortest_edge, crop, resample, mean, std = steps
        self.image_size = crop[0]
        self._preparation = ImagePreparation(
            self.image_size, ShortestEdgeCrop(shortest_edge, crop, resample)
        )
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        tower = _ImageTower(self.model)
        self._image_tower: Callable[[torch.Tensor], torch.Tensor] = (
            CompiledTower(tower, self.device) if compile_images else tower
        )
        self.tokenizer = self.processor.tokenizer
        self.context_length = int(self.model.config.text_config.max_position_embeddings)
        self.dim = int(self.model.config.projection_dim)
        self.fingerprint = fingerprint(folder)

    @property
    def logit_scale(self) -> float:
        return self._logit_scale

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        pixels: torch.Tensor = self.processor.image_processor(images=image, return_tensors="pt")[
            "pixel_values"
        ][0]
        return pixels

    @property
    def preparation(self) -> ImagePreparation:
        return self._preparation

    def pixels(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div_(255)
        return (batch - self._mean) / self._std

    def text_inputs(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        # Padded to the longest text: CLIP's text tower is causal and pools the first
        # end-of-text token, so the padding after it changes nothing.
        tokens = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.context_length,
            return_tensors="pt",
        )
        return {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}

    def text_features(self, **inputs: torch.Tensor) -> torch.Tensor:
        return _features(self.model.get_text_features(**inputs))


class _ImageTower(torch.nn.Module):
    """``model.get_image_features`` as a module (what slices and ``torch.compile`` call)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return _features(self.model.get_image_features(pixel_values=pixels))


def _features(output: Any) -> torch.Tensor:
    """The projected features: transformers 5 returns them as the output's ``pooler_output``."""
    if isinstance(output, torch.Tensor):
        return output
    features: torch.Tensor = output.pooler_output
    return features


def build_stock_model(folder: HfClipFolder, device: torch.device) -> tuple[Any, Any]:
    """``CLIPModel`` (fp32, eval mode) and ``CLIPProcessor`` as the model card loads them.

    Weights the folder lacks are an error: transformers would initialise them randomly.
    """
    from transformers import CLIPModel, CLIPProcessor
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # missing weights are reported below, as an error
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded: Any = CLIPModel.from_pretrained(folder.path, output_loading_info=True)
            model, loading = loaded
            processor = CLIPProcessor.from_pretrained(folder.path)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(f"cannot load the model in {folder.path}: {exc}") from exc
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    missing = list(loading.get("missing_keys", []))
    if missing:
        raise ModelUnavailableError(
            f"{folder.weights} lacks {len(missing)} of the model's weights (e.g. {missing[0]}); "
            "MedSearch never falls back to random weights"
        )
    return model.to(device).eval(), processor


def _build(
    folder: HfClipFolder, device: torch.device, dtype: torch.dtype, compile_images: bool
) -> tuple[Any, Any, float]:
    """The model in ``dtype`` with packed linear layers where that helps, its processor, scale."""
    model, processor = build_stock_model(folder, device)
    logit_scale = float(model.logit_scale.exp().item())  # read before a cast can round it
    model.to(dtype=dtype)
    if can_pack(device, dtype):
        # a compiled image tower packs its own weights (inductor freezing)
        pack_linear_layers(model.text_model if compile_images else model)
    return model, processor, logit_scale


def _image_steps(
    processor: Any,
) -> tuple[int, tuple[int, int], int, Sequence[float], Sequence[float]]:
    """Shortest edge, crop (height, width), resample and normalisation of the image processor.

    Only CLIP's steps (RGB, resize the shortest edge, centre crop, rescale by 1/255, normalise)
    are mirrored; a processor configured otherwise is refused rather than approximated.
    """
    flags = ("do_resize", "do_center_crop", "do_rescale", "do_normalize")
    size = {k: v for k, v in dict(processor.size or {}).items() if v is not None}
    crop = {k: v for k, v in dict(processor.crop_size or {}).items() if v is not None}
    if (
        not all(getattr(processor, flag, False) for flag in flags)
        or set(size) != {"shortest_edge"}
        or set(crop) != {"height", "width"}
        or abs(float(processor.rescale_factor) - 1 / 255) > 1e-9
    ):
        raise ModelUnavailableError(
            f"unexpected image preprocessing in this model ({PREPROCESSOR_FILE}): "
            f"{processor.to_dict()}"
        )
    resample = int(getattr(processor.resample, "value", processor.resample))
    return (
        int(size["shortest_edge"]),
        (int(crop["height"]), int(crop["width"])),
        resample,
        list(processor.image_mean),
        list(processor.image_std),
    )


def fingerprint(folder: HfClipFolder) -> str:
    """Digest of the architecture, preprocessing, tokenizer and the exact weight bytes."""
    digest = hashlib.sha256()
    config = {k: v for k, v in folder.config.items() if k not in _PROVENANCE_KEYS}
    digest.update(json.dumps(config, sort_keys=True).encode())
    for name in (PREPROCESSOR_FILE, *TOKENIZER_FILES[:2]):
        digest.update(file_digest(folder.path / name))
    digest.update(file_digest(folder.weights))
    return "clip-" + digest.hexdigest()[:24]


def load_hf_clip(model: str, *, device: str, precision: str, compile_images: bool) -> HfClipEncoder:
    """The encoder for ``model`` (an ``hf-clip:`` id or a local folder)."""
    return HfClipEncoder(
        locate_hf_clip(model), device=device, precision=precision, compile_images=compile_images
    )


def model_card_embedder(model_ref: str, device: torch.device) -> Callable[[Image.Image], Any]:
    """The model card's way of embedding one image: ``processor`` then ``get_image_features``."""
    model, processor = build_stock_model(locate_hf_clip(model_ref), device)

    def embed(image: Image.Image) -> Any:
        inputs = processor(images=image, return_tensors="pt").to(device)
        return model.get_image_features(**inputs)

    return embed
