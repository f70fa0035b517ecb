"""Adapt on a device other than the CPU: one real training step of every method and augmentation on `meta`.

Before the fix, `colourize` and `random_affine` drew their numbers on the CPU after the batch had moved
to the device: every augmented step failed here with "Tensor on device cpu is not on the expected device meta!".
"""

from __future__ import annotations

import pytest
import torch

from tests.device.conftest import on
from visionlab.adapt.data import augment_source
from visionlab.adapt.nets import DANN
from visionlab.adapt.step import StepSpec, make_step
from visionlab.engine import device_generator

pytestmark = pytest.mark.device
AUGMENTS = ["none", "affine", "invert", "colour"]


def _batch(device: torch.device, n: int = 8) -> tuple[torch.Tensor, ...]:
    x = torch.empty(n, 3, 32, 32, dtype=torch.uint8, device=device)
    y = torch.empty(n, dtype=torch.long, device=device)
    return x, y, x.clone(), y.clone()


def _one_step(device: torch.device, spec: StepSpec, arch: str = "bn") -> tuple[DANN, dict]:
    model = DANN(arch).to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    logs = make_step(model, opt, spec, generator=device_generator(device, 0))(_batch(device), 0.5)
    return model, logs


@pytest.mark.parametrize("augment", AUGMENTS)
@pytest.mark.parametrize("method", ["dann", "no-grl", "source-only", "target-only"])
def test_one_training_step_on_the_device(strict_device: torch.device, method: str, augment: str) -> None:
    model, logs = _one_step(strict_device, StepSpec(method, augment))
    tensors = [v for v in logs.values() if torch.is_tensor(v)]
    assert len(tensors) == 4  # losses and accuracies stay tensors on the device: no host read-out in the step
    on(strict_device, *tensors)
    on(strict_device, model.features[0].weight.grad, model.domain[0].weight.grad, model.classifier[0].weight.grad)


@pytest.mark.parametrize("augment", AUGMENTS)
def test_one_pseudo_label_step_on_the_device(strict_device: torch.device, augment: str) -> None:
    spec = StepSpec("pseudo", augment, grl_lambda=1.0, fixed_p=1.0)
    model, logs = _one_step(strict_device, spec, arch="canonical")
    on(strict_device, logs["train/class_loss"], logs["train/domain_acc"], model.features[0].weight.grad)
    assert logs["train/lambda"] == 1.0


@pytest.mark.parametrize("augment", ["colour", "invert", "affine"])
def test_a_data_parallel_share_of_the_augmentation_is_drawn_on_the_device(
    strict_device: torch.device, augment: str
) -> None:
    x = torch.empty(4, 3, 32, 32, dtype=torch.uint8, device=strict_device)
    out = augment_source(x, augment, device_generator(strict_device, 0), share=(1, 2))
    on(strict_device, out)
    assert out.shape == (4, 3, 32, 32)
