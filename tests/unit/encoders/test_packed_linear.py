"""Linear layers packed for oneDNN compute what ``nn.Linear`` computes."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from indexer.encoders import Encoder
from indexer.encoders.runtime.packed_linear import PackedLinear, can_pack, pack_linear_layers

pytestmark = pytest.mark.skipif(
    not can_pack(torch.device("cpu"), torch.float32), reason="this torch build has no oneDNN"
)


class _Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64, bias=False))
        self.attention = nn.MultiheadAttention(64, 4, batch_first=True)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mixed, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        result: torch.Tensor = self.mlp(mixed[:, ::2])  # a strided, non-contiguous input
        return result


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_packed_model_gives_the_same_output(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = _Model().eval().to(dtype)
    packed = copy.deepcopy(model)
    assert pack_linear_layers(packed) == 2
    assert isinstance(packed.mlp[0], PackedLinear) and isinstance(packed.mlp[2], PackedLinear)
    # nn.MultiheadAttention reads its output projection's weight itself: left alone
    assert type(packed.attention.out_proj) is type(model.attention.out_proj)
    tokens = torch.randn(3, 10, 64, generator=torch.Generator().manual_seed(1)).to(dtype)
    with torch.inference_mode():
        expected, result = model(tokens), packed(tokens)
    assert result.shape == expected.shape == (3, 5, 64)
    # bf16: another summation order may round a hidden value to its neighbouring bf16 step
    if dtype == torch.bfloat16:
        torch.testing.assert_close(result, expected, rtol=1.6e-2, atol=2e-3)
    else:
        torch.testing.assert_close(result, expected)


def test_encoder_packs_both_towers_on_a_cpu(tiny_encoder: Encoder) -> None:
    model = tiny_encoder.model  # type: ignore[attr-defined]
    for tower in (model.text, model.visual):
        layers = [m for m in tower.modules() if isinstance(m, (nn.Linear, PackedLinear))]
        assert layers and all(isinstance(m, PackedLinear) for m in layers)


def test_nothing_is_packed_off_the_cpu_or_in_half_precision() -> None:
    assert not can_pack(torch.device("cuda"), torch.bfloat16)
    assert not can_pack(torch.device("cpu"), torch.float16)
