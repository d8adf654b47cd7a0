"""ConceptCLIP's processor: the folder's WordPiece tokenizer and the authors' image preprocessing.

Images are squashed (aspect ratio not kept) to ``image_size`` squared with PIL's bicubic filter,
scaled to [0, 1] and normalised with ``image_mean`` / ``image_std`` (0.5 each): the preprocessing
of the authors' retrieval evaluation. Texts are tokenized with the folder's tokenizer, at most
``context_length`` tokens. This is MedSearch's own code, not the Hugging Face repository's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers import AutoTokenizer, BatchFeature

PREPROCESSOR_FILE = "preprocessor_config.json"


class ConceptCLIPProcessor:
    """``processor(images=..., text=..., return_tensors="pt", padding=True, truncation=True)``."""

    def __init__(
        self,
        tokenizer: Any,
        image_size: int = 384,
        image_mean: Sequence[float] = (0.5, 0.5, 0.5),
        image_std: Sequence[float] = (0.5, 0.5, 0.5),
        context_length: int = 77,
    ) -> None:
        self.tokenizer = tokenizer
        self.image_size = image_size
        self.image_mean = torch.tensor(image_mean, dtype=torch.float32).view(3, 1, 1)
        self.image_std = torch.tensor(image_std, dtype=torch.float32).view(3, 1, 1)
        self.context_length = context_length

    @classmethod
    def register_for_auto_class(cls, auto_class: str = "AutoProcessor") -> None:
        """Called by ``AutoProcessor`` on classes loaded from a folder; nothing to register."""

    @classmethod
    def from_pretrained(cls, folder: str | Path, **kwargs: Any) -> ConceptCLIPProcessor:
        """The processor of a model folder (tokenizer files and ``preprocessor_config.json``)."""
        path = Path(folder)
        settings = json.loads((path / PREPROCESSOR_FILE).read_text(encoding="utf-8"))
        return cls(
            AutoTokenizer.from_pretrained(
                str(path), trust_remote_code=bool(kwargs.get("trust_remote_code"))
            ),
            image_size=int(settings["image_size"]),
            image_mean=settings["image_mean"],
            image_std=settings["image_std"],
            context_length=int(settings["context_length"]),
        )

    def preprocess_image(self, image: Image.Image) -> torch.Tensor:
        """One image to the model's input [3, image_size, image_size]."""
        side = self.image_size
        squashed = image.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
        pixels = torch.from_numpy(np.array(squashed, dtype=np.uint8)).permute(2, 0, 1)
        return (pixels.float() / 255 - self.image_mean) / self.image_std

    def __call__(
        self,
        images: Image.Image | Sequence[Image.Image] | None = None,
        text: str | Sequence[str] | None = None,
        return_tensors: str = "pt",
        padding: bool | str = True,
        truncation: bool = True,
        **_: Any,
    ) -> BatchFeature:
        if return_tensors != "pt":
            raise ValueError("this processor returns PyTorch tensors only (return_tensors='pt')")
        data: dict[str, Any] = {}
        if text is not None:
            tokens = self.tokenizer(
                [text] if isinstance(text, str) else list(text),
                padding=padding,
                truncation=truncation,
                max_length=self.context_length,
                return_tensors="pt",
            )
            data["input_ids"] = tokens["input_ids"]
            data["attention_mask"] = tokens["attention_mask"]
        if images is not None:
            batch = [images] if isinstance(images, Image.Image) else list(images)
            data["pixel_values"] = torch.stack([self.preprocess_image(im) for im in batch])
        return BatchFeature(data=data)
