"""visualize on a device other than the CPU: each saliency method, one step of each attack, one class-model
iteration, the sanity check's randomization and deletion/insertion step, with model and images on `meta`.

A tensor made on the CPU inside any of them meets a meta tensor and raises; a host read-out (`.item()`,
`.cpu()`, `bool(t)`) raises too. Captum's methods run on meta as they are. torchattacks' FGSM and CW do not:
its `Attack` checks the input range with a host read-out (`torch.max(inputs) > 1`) and CW calls `.item()`
per step, so they cannot run on meta; here our own code around them is tested instead (the target draw and
the attack dispatch up to the library call), and their CPU runs are in tests/unit/test_visualize_attacks.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from tests.device.conftest import on
from visionlab.visualize import attacks
from visionlab.visualize import faithfulness as fx
from visionlab.visualize.adversarial import choose_targets, run_attack
from visionlab.visualize.ascent import Ascent, visualize_classes
from visionlab.visualize.attribution import METHODS, AttributionSettings, attribute
from visionlab.visualize.class_model import start_images
from visionlab.visualize.commands import AdversarialConfig, ClassModelConfig
from visionlab.visualize.inputs import Inputs
from visionlab.visualize.saliency import targets_for

pytestmark = pytest.mark.device

CLASSES = 5


def _net(device: torch.device) -> nn.Sequential:
    """A tiny CNN (conv, BatchNorm, ReLU, pool, linear) in eval mode, frozen, on `device`."""
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, CLASSES),
    )
    return net.eval().requires_grad_(False).to(device)


def _batch(device: torch.device, n: int = 2, side: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.empty(n, 3, side, side, device=device), torch.zeros(n, dtype=torch.long, device=device)


@pytest.mark.parametrize("method", METHODS)
def test_each_saliency_method_stays_on_the_device(strict_device: torch.device, method: str) -> None:
    net = _net(strict_device)
    images, _ = _batch(strict_device)
    probs = torch.empty(2, CLASSES, device=strict_device)
    inputs = Inputs(["a", "b"], images, [(3,), ()], "two images")
    targets = targets_for(inputs, probs, "label")  # the known label of one, the prediction of the other
    on(strict_device, targets)
    settings = AttributionSettings(samples=2, steps=2, layer=net[0])
    maps = attribute(net, images, targets, method, settings)
    on(strict_device, maps)
    assert maps.shape == (2, 8, 8)


@pytest.mark.parametrize("name", ["naive", "pgd"])
def test_one_step_of_each_of_our_attacks_stays_on_the_device(strict_device: torch.device, name: str) -> None:
    net = _net(strict_device)
    images, labels = _batch(strict_device)
    targets = choose_targets("random", labels, CLASSES, seed=0)  # a seeded draw on the device
    on(strict_device, targets)
    cfg = AdversarialConfig(attack=[name], steps=1, random_start=True)
    res = run_attack(name, cfg, net, images, labels, targets, seed=0)  # pgd: random start, generator per device
    on(strict_device, res.images, res.steps)
    assert res.images.shape == images.shape and res.steps.shape == (2,)


def test_the_attack_loop_takes_its_steps_between_checks_without_a_host_read(strict_device: torch.device) -> None:
    net = _net(strict_device)
    images, labels = _batch(strict_device)
    steps = attacks.CHECK_EVERY - 1  # no early-stop check falls inside: the steps alone must stay on the device
    res = attacks.pgd(net, images, labels, torch.full_like(labels, -1), eps=0.1, alpha=0.05, steps=steps)
    on(strict_device, res.images, res.steps)


def test_one_class_model_iteration_with_jitter_and_blur_stays_on_the_device(strict_device: torch.device) -> None:
    net = _net(strict_device)
    mean = torch.full((1, 3, 1, 1), 0.5, device=strict_device)
    std = torch.full((1, 3, 1, 1), 0.25, device=strict_device)
    backbone = SimpleNamespace(mean=mean, std=std)
    cfg = ClassModelConfig(size=8)
    init, _ = start_images(cfg, backbone, 2, generator := None)  # noise in the normalized space, on the device
    on(strict_device, init)
    s = Ascent.constant(2, lr=1.0, l2=1e-3, blur_every=1, jitter=2, iterations=1, blur_sigma=0.5)
    targets = torch.tensor([1, 3], device=strict_device)
    final, snaps = visualize_classes(net, mean, std, targets, init, s, [0, 1], generator)
    on(strict_device, final, *snaps.values())
    assert final.shape == (2, 3, 8, 8) and set(snaps) == {0, 1}


def test_the_sanity_randomization_and_deletion_steps_stay_on_the_device(strict_device: torch.device) -> None:
    net = _net(strict_device)
    backbone = SimpleNamespace(net=net, spec=SimpleNamespace(cuts={"conv": "0", "bn": "1", "fc": "5"}))
    images, targets = _batch(strict_device)
    names, maps = fx.cascade(backbone, lambda m: m.net(images).sum() * torch.ones(2, 8, 8, device=strict_device))
    assert names == ["fc", "bn", "conv"]  # from the top down
    on(strict_device, *maps, *[p for p in net.parameters()])  # the copy was randomized; the original untouched
    saliency = torch.rand(2, 8, 8, device=strict_device)
    dele, ins = fx.deletion_insertion(
        net, images, saliency, targets, steps=2, blur_sigma=1.0, patch=2, deleted_to="blur"
    )
    on(strict_device, dele, ins)
    assert dele.shape == ins.shape == (2, 3)


def test_a_tensor_made_on_the_cpu_inside_a_step_fails_here(strict_device: torch.device) -> None:
    net = _net(strict_device)
    init, _ = _batch(strict_device)
    cpu_mean = torch.full((1, 3, 1, 1), 0.5)  # as the start image's normalization once was: made on the CPU
    s = Ascent.constant(2, lr=1.0, l2=0.0, blur_every=0, jitter=0, iterations=1)
    with pytest.raises(RuntimeError, match="Tensor on device cpu is not on the expected device meta"):
        visualize_classes(net, cpu_mean, cpu_mean, torch.zeros(2, dtype=torch.long), init, s, [])
    with pytest.raises(RuntimeError):  # a read-out per step, as the attack loop once did, cannot pass either
        init.sum().cpu()
