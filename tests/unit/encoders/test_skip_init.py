"""Building a model without random fills: fills do nothing inside, in that thread only."""

from __future__ import annotations

import threading

import torch

from indexer.encoders.runtime.skip_init import no_random_fill


def test_random_fills_leave_tensors_as_they_are_inside_only() -> None:
    torch.manual_seed(0)
    tensor = torch.zeros(64)
    other_thread: list[torch.Tensor] = []

    def fill_elsewhere() -> None:
        other_thread.append(torch.nn.init.normal_(torch.zeros(64)))

    with no_random_fill():
        torch.nn.init.normal_(tensor)
        torch.nn.init.trunc_normal_(tensor, std=0.02)
        torch.nn.init.kaiming_uniform_(tensor.view(8, 8))
        tensor.uniform_()
        worker = threading.Thread(target=fill_elsewhere)
        worker.start()
        worker.join()
        linear = torch.nn.Linear(4, 4)  # its reset_parameters fills nothing either
        torch.nn.init.constant_(linear.bias, 0.5)  # not a random fill: done
    assert torch.count_nonzero(tensor) == 0
    assert torch.count_nonzero(other_thread[0]) == 64
    assert torch.all(linear.bias == 0.5)
    torch.nn.init.normal_(tensor)
    assert torch.count_nonzero(tensor) == 64
