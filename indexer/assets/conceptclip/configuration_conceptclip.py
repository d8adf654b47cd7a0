"""Configuration of ConceptCLIP folders written by ``medsearch model init --arch conceptclip``.

The architecture is the one of ``ConceptCLIP-Pretraining.json`` in the authors' GitHub repository
(JerrryNie/ConceptCLIP, ``pre_training/src/open_clip/model_configs``): a timm SigLIP So400m/14 image
tower at 384 px with attention-pool ("map") pooling and no projection, a PubMedBERT text tower with
mean pooling and a linear projection, a 1152-d joint space, a SigLIP logit bias, and the concept
projection heads (``image_proj``, ``text_proj``) used for the token-level concept loss.

This file is MedSearch's own code, loaded by ``transformers`` through the ``auto_map`` of
``config.json``; it is not the code of the Hugging Face repository, which MedSearch does not ship.
"""

from __future__ import annotations

import math
from typing import Any

from transformers import PretrainedConfig

#: the image tower of the pretraining config, as timm names it
VISION_MODEL = "vit_so400m_patch14_siglip_384"
#: PubMedBERT-base: the text tower's architecture
BERT_BASE: dict[str, Any] = {
    "model_type": "bert",
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}


class ConceptCLIPConfig(PretrainedConfig):
    """Widths of both towers, the joint dimension and the initial logit scale and bias."""

    model_type = "conceptclip"

    def __init__(
        self,
        embed_dim: int = 1152,
        vision_model_name: str = VISION_MODEL,
        vision_overrides: dict[str, Any] | None = None,
        image_size: int = 384,
        text_config: dict[str, Any] | None = None,
        context_length: int = 77,
        init_logit_scale: float = math.log(1 / 0.07),
        init_logit_bias: float = -10.0,
        **kwargs: Any,
    ) -> None:
        self.embed_dim = embed_dim
        self.vision_model_name = vision_model_name
        #: keyword arguments given to ``timm.create_model`` on top of the named model's own
        self.vision_overrides = dict(vision_overrides or {})
        self.image_size = image_size
        self.text_config = {**BERT_BASE, **(text_config or {})}
        self.context_length = context_length
        self.init_logit_scale = init_logit_scale
        self.init_logit_bias = init_logit_bias
        super().__init__(**kwargs)
