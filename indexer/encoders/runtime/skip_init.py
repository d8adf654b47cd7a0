"""Building a model whose weights are then all loaded, without first filling them at random.

Constructing a model draws every weight from its initialiser (about a second for BiomedCLIP on
two cores), only for the checkpoint to overwrite them. Inside :func:`no_random_fill` the random
fills leave a tensor as allocated; it is for a model whose checkpoint is loaded strictly (every
parameter and persistent buffer replaced, or an error), so nothing allocated is ever used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from torch.overrides import TorchFunctionMode

#: names of the in-place random fills of their first argument: ``torch.nn.init``'s initialisers
#: and the tensor methods they (and timm's and transformers' initialisers) are made of
_RANDOM_FILLS = frozenset(
    {
        "uniform_",
        "normal_",
        "trunc_normal_",
        "kaiming_uniform_",
        "kaiming_normal_",
        "xavier_uniform_",
        "xavier_normal_",
        "orthogonal_",
        "sparse_",
        "erfinv_",
    }
)


class _NoRandomFill(TorchFunctionMode):
    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if getattr(func, "__name__", None) in _RANDOM_FILLS:
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


@contextmanager
def no_random_fill() -> Iterator[None]:
    """Random fills of tensors do nothing in this thread while inside."""
    with _NoRandomFill():
        yield
