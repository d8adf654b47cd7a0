"""Run the last block of a class-token ViT for the class token alone.

A ViT whose embedding is its class token (timm ``global_pool="token"``, as BiomedCLIP's image
tower) throws away the last block's output for the other 196 tokens. That block still needs their
keys and values, but not their queries, attention output, projection or MLP: computing those for
the class token only removes a small part of the tower's work (docs/benchmarks.md, fourth round),
with the same result (the same matrix products on the one row that is kept).
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from timm.layers import Mlp
from timm.models.vision_transformer import Attention, Block, VisionTransformer
from torch import nn
from torch.nn.utils import skip_init


class ClassTokenBlock(nn.Module):
    """A timm ``Block`` that returns only the class token's output, shape [batch, 1, width].

    It takes the block over: the block's fused ``qkv`` layer is replaced by the split one here.
    """

    def __init__(self, block: Block) -> None:
        super().__init__()
        # the fused query-key-value projection, split: queries are needed for one token only
        qkv = cast(nn.Linear, block.attn.qkv)
        width = qkv.in_features
        self.query = _linear(qkv, slice(0, width))
        self.key_value = _linear(qkv, slice(width, 3 * width))
        block.attn.qkv = nn.Identity()  # taken over: no second copy of its weights is kept
        self.block = block

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        block: Any = self.block  # a plain timm Block (checked by use_class_token_last_block)
        attn: Any = block.attn
        batch, count, width = tokens.shape
        heads, head_dim = attn.num_heads, attn.head_dim
        normed = block.norm1(tokens)
        query = self.query(normed[:, :1])
        key_value = self.key_value(normed)
        key, value = key_value.reshape(batch, count, 2, heads, head_dim).permute(2, 0, 3, 1, 4)
        query = query.reshape(batch, 1, heads, head_dim).transpose(1, 2)
        if attn.fused_attn:
            mixed = F.scaled_dot_product_attention(query, key, value)
        else:
            weights = ((query * attn.scale) @ key.transpose(-2, -1)).softmax(dim=-1)
            mixed = weights @ value
        class_token = tokens[:, :1] + attn.proj(mixed.transpose(1, 2).reshape(batch, 1, width))
        result: torch.Tensor = class_token + block.mlp(block.norm2(class_token))
        return result


def use_class_token_last_block(trunk: nn.Module) -> bool:
    """Swap ``trunk``'s last block for a :class:`ClassTokenBlock` when that gives the same output.

    Only a plain timm ViT that pools its class token qualifies, with a stock last block (no layer
    scale, gating, query/key norms or drop path). Returns whether the swap was made; any other
    model is left as it is.
    """
    if not _pools_class_token(trunk):
        return False
    blocks = trunk.blocks
    if not isinstance(blocks, nn.Sequential) or not len(blocks) or not _is_plain(blocks[-1]):
        return False
    blocks[-1] = ClassTokenBlock(cast(Block, blocks[-1]))
    return True


def _pools_class_token(trunk: nn.Module) -> bool:
    return (
        isinstance(trunk, VisionTransformer)
        and trunk.global_pool == "token"
        and trunk.attn_pool is None
        and trunk.cls_token is not None
        and isinstance(trunk.fc_norm, nn.Identity)
    )


def _is_plain(block: nn.Module) -> bool:
    if type(block) is not Block or type(block.attn) is not Attention:
        return False
    attn = block.attn
    unchanged = (block.ls1, block.ls2, block.drop_path1, block.drop_path2)
    unchanged_in_attn = (attn.q_norm, attn.k_norm, attn.norm)
    return (
        all(isinstance(module, nn.Identity) for module in (*unchanged, *unchanged_in_attn))
        and getattr(attn, "gate", None) is None
        and attn.attn_dim == attn.num_heads * attn.head_dim == attn.qkv.in_features
        and type(block.mlp) is Mlp
    )


def _linear(source: nn.Linear, rows: slice) -> nn.Linear:
    """A new ``nn.Linear`` computing the output features ``rows`` of ``source``."""
    weight = source.weight.detach()[rows]
    bias = None if source.bias is None else source.bias.detach()[rows]
    linear: nn.Linear = skip_init(  # no random initialisation: the weights are copied in
        nn.Linear,
        weight.shape[1],
        weight.shape[0],
        bias=bias is not None,
        device=weight.device,
        dtype=weight.dtype,
    )
    linear.weight = nn.Parameter(weight.clone(), requires_grad=False)
    if bias is not None:
        linear.bias = nn.Parameter(bias.clone(), requires_grad=False)
    return linear.eval()
