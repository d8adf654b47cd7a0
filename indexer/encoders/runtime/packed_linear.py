"""Linear layers whose weights are packed once for oneDNN, the CPU's matrix kernels.

An eager ``nn.Linear`` on the CPU hands its weight to oneDNN in plain row-major layout, and oneDNN
reorders it into its blocked layout again on every call. :func:`pack_linear_layers` does that
reorder once, at load time, as ``torch.compile``'s weight freezing does inside a compiled graph.
Results agree to float rounding (bit for bit in the bf16 products of ViT-B/16 we compared). The
gain is largest for the few rows of a short text query, where the reorder was most of a product's
cost; packing costs little at load (figures in docs/benchmarks.md, fourth round).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

#: weight dtypes oneDNN packs on a CPU
PACKABLE_DTYPES = (torch.float32, torch.bfloat16)


class PackedLinear(nn.Module):
    """``nn.Linear`` with its weight in oneDNN's layout; for inference only."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach()
        # The batch size argument is only a layout hint; any number of rows works.
        self.weight_packed = torch.ops.mkldnn._reorder_linear_weight(weight, 1)
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = torch.ops.mkldnn._linear_pointwise(
            inputs.contiguous(), self.weight_packed, self.bias, "none", [], ""
        )
        return result

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, packed"


_packing = {"allowed": True}


def can_pack(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether linear layers on ``device`` in ``dtype`` can be packed (a CPU with oneDNN)."""
    return (
        _packing["allowed"]
        and device.type == "cpu"
        and dtype in PACKABLE_DTYPES
        and torch.backends.mkldnn.is_available()
    )


@contextmanager
def plain_linear_layers() -> Iterator[None]:
    """Models loaded inside keep plain ``nn.Linear`` layers: oneDNN's packed weights are no
    operation another runtime knows, so a model to export must not have them."""
    _packing["allowed"] = False
    try:
        yield
    finally:
        _packing["allowed"] = True


def pack_linear_layers(module: nn.Module) -> int:
    """Replace every plain ``nn.Linear`` inside ``module`` by a :class:`PackedLinear`.

    Subclasses of ``nn.Linear`` are left alone: some owners read their ``weight`` directly
    (``nn.MultiheadAttention``'s output projection). Returns how many layers were packed.
    """
    targets = [
        (parent, name, child)
        for parent in module.modules()
        for name, child in parent.named_children()
        if type(child) is nn.Linear
    ]
    for parent, name, child in targets:
        setattr(parent, name, PackedLinear(child))
    return len(targets)
