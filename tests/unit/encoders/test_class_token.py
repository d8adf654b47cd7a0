"""The class-token-only last block gives the stock ViT's output, and is used only where it does."""

from __future__ import annotations

import copy
from typing import Any, cast

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer

from indexer.encoders import Encoder
from indexer.encoders.runtime.class_token import ClassTokenBlock, use_class_token_last_block


def _vit(**overrides: object) -> VisionTransformer:
    torch.manual_seed(0)
    options: dict[str, object] = dict(
        img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, num_classes=0
    )
    options.update(overrides)
    return VisionTransformer(**options).eval()  # type: ignore[arg-type]


@pytest.mark.parametrize("fused_attn", [True, False])
@pytest.mark.parametrize("qkv_bias", [True, False])
def test_class_token_block_gives_the_stock_output(fused_attn: bool, qkv_bias: bool) -> None:
    stock = _vit(qkv_bias=qkv_bias)
    for module in stock.modules():
        if hasattr(module, "fused_attn"):
            cast(Any, module).fused_attn = fused_attn
    fast = copy.deepcopy(stock)
    assert use_class_token_last_block(fast)
    pixels = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        torch.testing.assert_close(fast(pixels), stock(pixels), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "overrides",
    [
        {"global_pool": "avg"},  # every token reaches the embedding
        {"init_values": 0.1},  # layer scale in the block
        {"qk_norm": True},
        {"class_token": False, "global_pool": "avg"},
    ],
)
def test_other_vits_are_left_alone(overrides: dict[str, object]) -> None:
    model = _vit(**overrides)
    assert not use_class_token_last_block(model)
    assert not any(isinstance(module, ClassTokenBlock) for module in model.modules())


def test_biomedclip_image_tower_uses_it(tiny_encoder: Encoder) -> None:
    trunk = tiny_encoder.model.visual.trunk  # type: ignore[attr-defined]
    assert isinstance(trunk.blocks[-1], ClassTokenBlock)
    assert sum(isinstance(module, ClassTokenBlock) for module in trunk.modules()) == 1
