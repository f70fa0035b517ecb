"""Transfer on a device other than the CPU: a fine-tuning step, the frozen-feature batch, the new head."""

from __future__ import annotations

import pytest
import torch

from tests.device.conftest import on
from visionlab.models import load_backbone
from visionlab.transfer.commands import FinetuneConfig
from visionlab.transfer.features import features_of
from visionlab.transfer.training import freeze_body, make_step, optimizer

pytestmark = pytest.mark.device


@pytest.fixture(scope="module")
def lite0():
    return load_backbone("efficientnet_lite0", "none")


@pytest.mark.parametrize("freeze", [False, True])
def test_one_fine_tuning_step_on_the_device(strict_device: torch.device, freeze: bool) -> None:
    backbone = load_backbone("efficientnet_lite0", "none")
    head = backbone.spec.new_head(backbone.net, 5)
    if freeze:
        freeze_body(backbone, head)
    model = backbone.to(strict_device).to(memory_format=torch.channels_last)
    opt = optimizer(backbone, head, FinetuneConfig())
    step = make_step(model, opt)
    x = torch.empty(4, 3, 32, 32, device=strict_device).contiguous(memory_format=torch.channels_last)
    y = torch.zeros(4, dtype=torch.long, device=strict_device)
    backbone.train(not freeze)
    logs = step((x, y, 4), 0.0)
    on(strict_device, *logs.values(), head.weight, head.weight.grad)
    assert set(logs) == {"train/loss", "train/acc"} and logs["train/loss"].shape == ()


def test_a_data_parallel_share_scales_its_loss_on_the_device(strict_device: torch.device, lite0) -> None:
    head = torch.nn.Linear(6, 3).to(strict_device)
    opt = torch.optim.AdamW(head.parameters())
    step = make_step(head, opt, world=2)  # this process holds 2 of a global batch of 3
    logs = step((torch.empty(2, 6, device=strict_device), torch.zeros(2, dtype=torch.long, device=strict_device), 3), 0)
    on(strict_device, *logs.values(), head.weight.grad)


@pytest.mark.parametrize("crop", ["center", "five"])
def test_features_of_a_batch_stay_on_the_device(strict_device: torch.device, lite0, crop: str) -> None:
    extractor = lite0.extractor(["block3", "pool"]).to(strict_device).eval()
    x = torch.empty(2, *([5] if crop == "five" else []), 3, 64, 64, device=strict_device)
    with torch.no_grad():
        feats = features_of(extractor, x, flip=True, crop=crop)
    on(strict_device, *feats.values())
    assert feats["block3"].shape == (2, 80) and feats["pool"].shape == (2, 1280)
