"""ConceptCLIP as a ``transformers`` model, for folders written by ``medsearch model init``.

The interface is the one of the model card and of the authors' evaluation code:

- ``model(**processor(images=..., text=..., return_tensors="pt", padding=True, truncation=True))``
  returns a dict with ``image_features`` and ``text_features`` (L2-normalised), ``logit_scale``
  (already exponentiated), ``logit_bias``, the concept heads' token features and their scale/bias;
- ``model.encode_image(pixel_values)`` and ``model.encode_text(input_ids)`` return a tuple whose
  first element is the pooled, unnormalised embedding and whose second is the token features;
- ``model.logit_scale`` is the log of the temperature, ``model.logit_bias`` the SigLIP bias.

The modules mirror the authors' open_clip ``CustomTextCLIP`` with ``init_concept``: the text
tower masks padding (id != pad id) and mean-pools, as open_clip's ``HFTextEncoder`` does.
This is MedSearch's own code, not the code of the Hugging Face repository.
"""

from __future__ import annotations

from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertModel, PreTrainedModel

from .configuration_conceptclip import ConceptCLIPConfig


class ConceptCLIPImageTower(nn.Module):
    """timm SigLIP ViT with attention-pool pooling and no projection (``timm_proj: none``)."""

    def __init__(self, config: ConceptCLIPConfig) -> None:
        super().__init__()
        self.trunk: Any = timm.create_model(
            config.vision_model_name,
            pretrained=False,
            num_classes=0,
            global_pool="map",
            img_size=config.image_size,
            **config.vision_overrides,
        )
        if self.trunk.num_features != config.embed_dim:
            raise ValueError(
                f"the image tower's width {self.trunk.num_features} must equal embed_dim "
                f"{config.embed_dim} (the tower has no projection)"
            )

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.trunk.forward_features(pixel_values)
        return self.trunk.forward_head(tokens), tokens


class ConceptCLIPTextTower(nn.Module):
    """BERT without its pooler, masked mean pooling, linear projection to the joint space."""

    def __init__(self, config: ConceptCLIPConfig) -> None:
        super().__init__()
        bert_config = BertConfig(**config.text_config)
        self.pad_token_id = int(bert_config.pad_token_id or 0)
        self.transformer = BertModel(bert_config, add_pooling_layer=False)
        self.proj = nn.Linear(bert_config.hidden_size, config.embed_dim, bias=False)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if attention_mask is None:
            attention_mask = (input_ids != self.pad_token_id).long()
        hidden = self.transformer(
            input_ids=input_ids, attention_mask=attention_mask
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
        return self.proj(pooled), hidden


class ConceptCLIPModel(PreTrainedModel):
    """Image and text towers, the SigLIP logit scale and bias, and the concept heads."""

    config_class = ConceptCLIPConfig
    base_model_prefix = "conceptclip"
    main_input_name = "pixel_values"

    def __init__(self, config: ConceptCLIPConfig) -> None:
        super().__init__(config)
        embed_dim = config.embed_dim
        text_width = int(config.text_config["hidden_size"])
        self.visual = ConceptCLIPImageTower(config)
        self.text = ConceptCLIPTextTower(config)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.init_logit_scale)))
        self.logit_bias = nn.Parameter(torch.tensor(float(config.init_logit_bias)))
        self.concept_logit_scale = nn.Parameter(torch.tensor(float(config.init_logit_scale)))
        self.concept_logit_bias = nn.Parameter(torch.tensor(float(config.init_logit_bias)))
        self.image_proj = nn.Sequential(
            nn.Linear(embed_dim, embed_dim, bias=False),
            nn.GELU(),
            nn.Linear(embed_dim, embed_dim, bias=False),
        )
        self.text_proj = nn.Sequential(
            nn.Linear(text_width, embed_dim, bias=False),
            nn.GELU(),
            nn.Linear(embed_dim, embed_dim, bias=False),
        )
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Each tower initialises itself when built (timm's and BERT's own schemes)."""

    def encode_image(
        self, pixel_values: torch.Tensor, normalize: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled image embeddings [n, embed_dim] and the tower's token features."""
        pooled, tokens = self.visual(pixel_values)
        return (F.normalize(pooled, dim=-1) if normalize else pooled), tokens

    def encode_text(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        normalize: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled text embeddings [n, embed_dim] and the tower's token features."""
        pooled, tokens = self.text(input_ids, attention_mask)
        return (F.normalize(pooled, dim=-1) if normalize else pooled), tokens

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        **_: Any,
    ) -> dict[str, torch.Tensor | None]:
        image_features = image_tokens = text_features = text_tokens = None
        if pixel_values is not None:
            image_features, image_tokens = self.encode_image(pixel_values, normalize=True)
            image_tokens = self.image_proj(image_tokens)
        if input_ids is not None:
            text_features, text_tokens = self.encode_text(input_ids, attention_mask, normalize=True)
            text_tokens = self.text_proj(text_tokens)
        return {
            "image_features": image_features,
            "text_features": text_features,
            "logit_scale": self.logit_scale.exp(),
            "logit_bias": self.logit_bias,
            "image_token_features": image_tokens,
            "text_token_features": text_tokens,
            "concept_logit_scale": self.concept_logit_scale.exp(),
            "concept_logit_bias": self.concept_logit_bias,
        }
