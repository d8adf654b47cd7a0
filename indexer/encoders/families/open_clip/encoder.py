"""The open_clip family: any model open_clip builds from an ``open_clip_config.json`` and weights.

BiomedCLIP (timm ViT-B/16 image tower + PubMedBERT text tower) is the default model; a fine-tuned
checkpoint or any other architecture open_clip knows (its own ViTs and text transformers, timm
towers, Hugging Face text towers) loads the same way. The model is built by open_clip's own factory
from the folder's config and weights, with no network: a Hugging Face text tower's config comes
from the folder (or, for BiomedCLIP, MedSearch's copy of the real one).
"""

from __future__ import annotations

import copy
import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import open_clip
import torch
from PIL import Image
from torchvision.transforms import Compose, Normalize

from ....errors import ModelUnavailableError
from ...base import FloatArray
from ...model_files import file_digest
from ...preparation import ImagePreparation
from ...runtime.class_token import use_class_token_last_block
from ...runtime.compiled import CompiledTower
from ...runtime.packed_linear import can_pack, pack_linear_layers
from ...runtime.skip_init import no_random_fill
from ...runtime.torch_encoder import TorchEncoder
from .folder import BIOMEDCLIP_TEXT_TOWERS, ModelFolder, locate_model


class OpenClipEncoder(TorchEncoder):
    """An open_clip model: ``CLIP`` or ``CustomTextCLIP`` (timm or Hugging Face towers)."""

    family = "open_clip"

    def __init__(
        self,
        folder: ModelFolder,
        device: str = "auto",
        precision: str = "auto",
        compile_images: bool = False,
    ) -> None:
        self._start(folder.ref, folder.random_weights, device, precision)
        building = self._model_thread.submit(
            _build, folder, self.device, self._dtype, compile_images
        )
        # hashing the weights (most of a second for BiomedCLIP) runs while the model is built
        self.fingerprint = fingerprint(folder)
        self.model: Any
        self.model, self._preprocess, self._logit_scale = building.result()
        self._resize_and_crop, self._normalize = _split_at_to_tensor(self._preprocess)
        self._image_tower: Callable[[torch.Tensor], torch.Tensor] = (
            CompiledTower(self.model.visual, self.device) if compile_images else self.model.visual
        )
        self.tokenizer = open_clip.get_tokenizer(f"local-dir:{folder.path}")
        self.context_length = int(self.model.context_length)
        self.dim = int(folder.config["model_cfg"]["embed_dim"])
        self.image_size = _image_side(folder.config["model_cfg"]["vision_cfg"])
        self.name = model_kind(folder)
        # Only a Hugging Face text tower masks its padding; open_clip's own text transformer
        # adds position embeddings for the whole context, so its tokens keep their full length.
        text_tower = getattr(self.model, "text", None)
        text_config = getattr(text_tower, "config", None)
        self._pad_id = None if text_config is None else int(text_config.pad_token_id or 0)
        bias = getattr(self.model, "logit_bias", None)
        self._logit_bias = None if bias is None else float(bias.float().item())

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        tensor: torch.Tensor = self._preprocess(image)
        return tensor

    @property
    def preparation(self) -> ImagePreparation:
        return ImagePreparation(self.image_size, self._resize_and_crop)

    @property
    def logit_scale(self) -> float:
        return self._logit_scale

    def label_probabilities(self, cosines: FloatArray) -> FloatArray:
        """CLIP's softmax; a model trained with SigLIP's loss (it has a ``logit_bias``) scores
        each label on its own, ``sigmoid(logit_scale * cosine + logit_bias)``, as open_clip does."""
        if self._logit_bias is None:
            return super().label_probabilities(cosines)
        logits = self._logit_scale * cosines.astype(np.float64) + self._logit_bias
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def pixels(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        # ToTensor and Normalize of the model card's preprocess, for the whole batch at once
        batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div_(255)
        normalized: torch.Tensor = self._normalize(batch)
        return normalized

    def text_inputs(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return {"tokens": self.tokenize(texts)}

    def text_features(self, **inputs: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.model.encode_text(inputs["tokens"])
        return features

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids as the model card makes them, without the padding columns nobody attends to.

        A Hugging Face text tower masks padding (attention mask = id != pad) and pools the CLS
        token, so cutting trailing all-pad columns changes no result but saves most of the compute
        of a short query padded to 256 tokens. Other text towers get the full context.
        """
        tokens: torch.Tensor = self.tokenizer(list(texts), context_length=self.context_length)
        if self._pad_id is None:
            return tokens
        used = int((tokens != self._pad_id).sum(dim=1).max().item())
        return tokens[:, : max(used, 1)]


def build_stock_model(folder: ModelFolder, device: torch.device) -> tuple[Any, Any]:
    """open_clip's own model (fp32, eval mode) and eval preprocess, as the model card loads them."""
    overrides: dict[str, Any] = {}
    if folder.text_config is not None:
        text_cfg = copy.deepcopy(folder.config["model_cfg"]["text_cfg"])
        # A path to the Hugging Face tower's config file keeps transformers off the network.
        text_cfg["hf_model_name"] = str(folder.text_config)
        text_cfg["hf_tokenizer_name"] = str(folder.path)
        text_cfg["hf_model_pretrained"] = False
        overrides["text_cfg"] = text_cfg
    try:
        # the folder always has weights (locate_model) and open_clip loads them strictly
        with warnings.catch_warnings(), no_random_fill():
            warnings.simplefilter("ignore")  # library deprecation chatter, not our concern here
            model, _, preprocess = open_clip.create_model_and_transforms(
                f"local-dir:{folder.path}",
                **overrides,
                device=device,
                precision="fp32",
                weights_only=True,
            )
    except (RuntimeError, ValueError, OSError, KeyError) as exc:
        raise ModelUnavailableError(f"cannot load the model in {folder.path}: {exc}") from exc
    return model.eval(), preprocess


def load_open_clip(
    model: str, *, device: str, precision: str, compile_images: bool
) -> OpenClipEncoder:
    """The encoder for ``model`` (an ``hf-hub:`` id or a local folder)."""
    return OpenClipEncoder(
        locate_model(model), device=device, precision=precision, compile_images=compile_images
    )


def model_card_embedder(model_ref: str, device: torch.device) -> Callable[[Image.Image], Any]:
    """The model card's way of embedding one image: ``preprocess`` then ``model.encode_image``."""
    model, preprocess = build_stock_model(locate_model(model_ref), device)

    def embed(image: Image.Image) -> Any:
        return model.encode_image(preprocess(image).unsqueeze(0).to(device))

    return embed


def _build(
    folder: ModelFolder, device: torch.device, dtype: torch.dtype, compile_images: bool
) -> tuple[Any, Any, float]:
    """The model made fast for inference in ``dtype``, its preprocess, and its logit scale.

    Every step keeps the results of the stock model (tests compare with the model card).
    """
    model, preprocess = build_stock_model(folder, device)
    logit_scale = float(model.logit_scale.exp().item())  # read before a cast can round it
    # Weights held in bf16/fp16 rather than autocast: autocast re-casts every weight on every
    # call, which costs a fifth of a single-image forward on a CPU.
    model.to(dtype=dtype)
    trunk = getattr(model.visual, "trunk", None)
    if trunk is not None:
        use_class_token_last_block(trunk)
    if device.type == "cpu" and dtype == torch.bfloat16:
        _use_matmul_attention(model.visual)
    if can_pack(device, dtype):
        # a compiled image tower packs its own weights (inductor freezing); open_clip's own
        # text transformer reads its layers' weight dtype, so only a Hugging Face one is packed
        towers = [model.text] if hasattr(model, "text") else []
        for tower in towers if compile_images else [*towers, model.visual]:
            pack_linear_layers(tower)
    return model, preprocess, logit_scale


def _split_at_to_tensor(preprocess: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """open_clip's eval preprocess as its PIL steps (resize, crop, mode) and its ``Normalize``.

    Only ``ToTensor`` and ``Normalize`` may follow the PIL steps: anything else would make
    :meth:`OpenClipEncoder.encode_prepared` differ from the model card's preprocess.
    """
    steps = list(preprocess.transforms)
    tensor_at = next((i for i, step in enumerate(steps) if "ToTensor" in type(step).__name__), None)
    tail = steps[tensor_at + 1 :] if tensor_at is not None else []
    if tensor_at is None or len(tail) != 1 or not isinstance(tail[0], Normalize):
        raise ModelUnavailableError(f"unexpected image preprocessing in this model: {steps}")
    return Compose(steps[:tensor_at]), tail[0]


def _use_matmul_attention(module: torch.nn.Module) -> None:
    """Plain matmul-softmax-matmul attention in timm blocks instead of the fused kernel.

    At ViT's 197 tokens PyTorch's CPU flash-attention kernel is slower than two batched
    matmuls in bf16 (docs/benchmarks.md, third round); the results agree to float rounding.
    """
    for block in module.modules():
        if hasattr(block, "fused_attn"):
            setattr(block, "fused_attn", False)  # noqa: B010 (a timm attribute, not typed)


def model_kind(folder: ModelFolder) -> str:
    """``biomedclip`` for BiomedCLIP's architecture (PubMedBERT text tower), else ``open_clip``."""
    tower = folder.config["model_cfg"]["text_cfg"].get("hf_model_name", "")
    return "biomedclip" if tower in BIOMEDCLIP_TEXT_TOWERS else "open_clip"


def fingerprint(folder: ModelFolder) -> str:
    """Digest of the architecture (config) and the exact weight bytes, after the model's kind.

    BiomedCLIP's prefix and digest are those indexes built before other models were supported
    record, so those indexes keep opening with the same model folder.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(folder.config["model_cfg"], sort_keys=True).encode())
    digest.update(json.dumps(folder.config.get("preprocess_cfg", {}), sort_keys=True).encode())
    digest.update(file_digest(folder.weights))
    return f"{model_kind(folder)}-{digest.hexdigest()[:24]}"


def _image_side(vision_cfg: dict[str, Any]) -> int:
    size = vision_cfg.get("image_size", 224)
    return int(max(size) if isinstance(size, (list, tuple)) else size)
