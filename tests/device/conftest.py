"""Device tests: a step run with its model and data on a device other than the CPU, on a CPU-only machine.

PyTorch's `meta` device stands in for a GPU: an op that mixes a meta tensor with a CPU tensor raises
("Tensor on device cpu is not on the expected device meta!"), as a CUDA op would, and backward works.
Two things meta does not catch are checked by `strict_device`: a random draw made with a generator of
another device (on a GPU, a CPU generator is refused), and a host read-out of a device value inside a
step (`.item()`, `.cpu()`, `float(t)` raise on meta, so a step that syncs cannot pass these tests).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch.overrides import TorchFunctionMode

META = torch.device("meta")


class GeneratorsOnTheirDevice(TorchFunctionMode):
    """Refuse a random draw whose generator lives on another device than the tensor it fills."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        gen = kwargs.get("generator")
        if isinstance(gen, torch.Generator):
            target = kwargs.get("device")
            if target is None:
                tensors = [a for a in args if isinstance(a, torch.Tensor)]
                target = tensors[0].device if tensors else torch.device("cpu")
            target = torch.device(target)
            if gen.device.type != target.type:
                name = getattr(func, "__name__", str(func))
                raise AssertionError(f"{name}: a generator on {gen.device} draws a tensor on {target}")
        return func(*args, **kwargs)


@pytest.fixture
def strict_device() -> Iterator[torch.device]:
    """The meta device, with draws from generators of another device refused."""
    with GeneratorsOnTheirDevice():
        yield META


def on(device: torch.device, *tensors: torch.Tensor) -> None:
    """Assert that every tensor lives on `device`."""
    for t in tensors:
        assert t.device.type == device.type, f"a tensor on {t.device}, expected {device}"
