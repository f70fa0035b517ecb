"""The device harness itself, and the engine's batch helpers on a device other than the CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.device.conftest import on
from visionlab.engine import PairedBatches, TensorBatches, device_generator, predict_chunks

pytestmark = pytest.mark.device


def test_the_harness_catches_a_device_mix_and_a_foreign_generator(strict_device: torch.device) -> None:
    x = torch.zeros(4, device=strict_device)
    with pytest.raises(RuntimeError, match="not on the expected device meta"):
        _ = x + torch.rand(4)  # a noise tensor made on the CPU
    with pytest.raises(AssertionError, match="generator on cpu draws a tensor on meta"):
        torch.rand(4, device=strict_device, generator=torch.Generator().manual_seed(0))
    with pytest.raises(RuntimeError, match="meta"):
        x.sum().item()  # a host read-out cannot hide in a step
    on(strict_device, torch.rand(4, device=strict_device, generator=device_generator(strict_device, 0)))


def test_batches_stay_on_the_device_of_their_tensors(strict_device: torch.device) -> None:
    images = torch.empty(10, 3, 4, 4, device=strict_device)
    labels = torch.empty(10, dtype=torch.long, device=strict_device)
    sizes = []
    for x, y in TensorBatches(images, labels, batch_size=4, seed=1, rank=1, world=2):
        on(strict_device, x, y)
        sizes.append(len(x))
    assert sizes == [2, 2, 1]  # rank 1's half of 4, 4 and the last 2
    pairs = PairedBatches(TensorBatches(images, labels, batch_size=4), TensorBatches(images[:5], batch_size=2))
    for xs, ys, xt in pairs:
        on(strict_device, xs, ys, xt)


def test_predict_chunks_moves_each_chunk_to_the_device(strict_device: torch.device) -> None:
    net = nn.Linear(3, 2).to(strict_device)
    out = predict_chunks(net, torch.zeros(1200, 3), chunk=500, device=strict_device)  # inputs on the host
    on(strict_device, out)
    assert out.shape == (1200, 2)
