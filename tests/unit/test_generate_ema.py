"""The moving average of G's weights and the independent check classifier, on known answers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionlab.generate.check import Check, check_classifier, check_metrics, random_warps, warp
from visionlab.generate.ema import EmaGenerator, averaging, ema_decay


def _net(value: float) -> nn.Module:
    net = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1))
    with torch.no_grad():
        net[0].weight.fill_(value)
    return net


def test_the_decay_warms_up_then_stays_at_its_value() -> None:
    assert ema_decay(0.999, 0) == pytest.approx(0.1) and ema_decay(0.999, 10) == pytest.approx(11 / 20)
    assert ema_decay(0.999, 10**6) == 0.999 and ema_decay(0.5, 20) == 0.5 and ema_decay(0.5, 5) == pytest.approx(0.4)


def test_ema_update_known_answer_and_copied_buffers() -> None:
    g = _net(1.0)
    ema = EmaGenerator(g, decay=0.5)
    assert not any(p.requires_grad for p in ema.parameters())
    with torch.no_grad():
        g[0].weight.fill_(3.0)
        g[1].running_mean.fill_(7.0)
    ema.update(g)  # t = 0: d = min(0.5, 1/10) = 0.1 -> 0.1 * 1 + 0.9 * 3
    assert ema.model[0].weight.item() == pytest.approx(2.8)
    assert ema.model[1].running_mean.item() == 7.0  # buffers are copied, not averaged
    with torch.no_grad():
        g[0].weight.fill_(0.0)
    ema.update(g)  # t = 1: d = min(0.5, 2/11) = 2/11 -> 2/11 * 2.8
    assert ema.model[0].weight.item() == pytest.approx(2 / 11 * 2.8)
    assert g[0].weight.item() == 0.0  # G itself is untouched


def test_ema_update_count_travels_with_the_state_dict() -> None:
    ema = EmaGenerator(_net(1.0), decay=0.9)
    for _ in range(3):
        ema.update(_net(2.0))
    again = EmaGenerator(_net(0.0), decay=0.9)
    again.load_state_dict(ema.state_dict())
    assert again.updates == 3 and again.model[0].weight.item() == ema.model[0].weight.item()


def test_averaging_updates_after_each_step() -> None:
    g = _net(1.0)
    ema = EmaGenerator(g, decay=0.9)
    calls: list[int] = []

    def step(batch: int, progress: float) -> dict[str, torch.Tensor]:
        calls.append(ema.updates)  # the step runs before the update
        return {"loss": torch.tensor(float(batch))}

    run = averaging(step, ema, g)
    assert run(5, 0.0)["loss"].item() == 5.0 and run(6, 0.5)["loss"].item() == 6.0
    assert calls == [0, 1] and ema.updates == 2


def test_warp_with_the_identity_is_the_image_and_a_shift_moves_by_whole_pixels() -> None:
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    assert torch.allclose(warp(x, identity), x, atol=1e-5)
    shift = identity.clone()
    shift[:, 0, 2] = 2 / 16  # 2 of 32 pixels: output column j reads input column j + 2
    out = warp(x, shift)
    assert torch.allclose(out[..., :30], x[..., 2:], atol=1e-5)
    assert torch.allclose(out[..., 30:], torch.full_like(out[..., 30:], -1.0))  # background comes in


def test_random_warps_stay_within_their_bounds() -> None:
    theta = random_warps(4000, torch.device("cpu"), torch.Generator().manual_seed(0))
    scale = 1 / theta[:, 0, :2].norm(dim=1)  # each row of the linear part is (cos, -sin) / scale
    angle = torch.atan2(theta[:, 1, 0], theta[:, 0, 0])
    assert scale.min() >= 0.9 - 1e-6 and scale.max() <= 1.1 + 1e-6 and scale.std() > 0.05
    assert angle.abs().max() <= math.radians(10) + 1e-6
    assert theta[:, :, 2].abs().max() <= 2 / 16 + 1e-6


class _ReadsPixel(nn.Module):
    """A stand-in classifier: the digit is the uint8 value of the top-left pixel, mod 10."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.one_hot(((x[:, 0, 0, 0] + 1) * 127.5).round().long() % 10, 10).float()


def test_check_metrics_known_answer() -> None:
    digits = torch.tensor([0, 1, 2, 3, 3, 3, 4, 5, 6, 7, 8, 9] * 10)
    samples = torch.zeros(len(digits), 1, 32, 32, dtype=torch.uint8)
    samples[:, 0, 0, 0] = digits.to(torch.uint8)
    labels = digits.clone()
    labels[:12] = 0  # of the first 12 samples only the one showing 0 carries its label
    m = check_metrics(Check(_ReadsPixel(), 0.99), samples, labels)  # type: ignore[arg-type]
    assert m["check/test_acc"] == 0.99
    assert m["samples/label_acc_check"] == pytest.approx(109 / 120)
    assert m["samples/class_min_share_check"] == pytest.approx(1 / 12)
    assert m["samples/class_max_share_check"] == pytest.approx(3 / 12)
    assert "samples/label_acc_check" not in check_metrics(Check(_ReadsPixel(), 0.9), samples, None)  # type: ignore[arg-type]


def test_the_check_classifier_is_cached_and_leaves_the_callers_random_state(tmp_path) -> None:  # noqa: ANN001
    train = torch.randint(0, 256, (256, 1, 32, 32), dtype=torch.uint8)
    labels = torch.arange(256) % 10
    state = torch.get_rng_state()
    first = check_classifier(train, labels, train[:50], labels[:50], tmp_path, epochs=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert len(list(tmp_path.glob("check-lenet-*-e1-s*.pt"))) == 1
    again = check_classifier(train, labels, train[:50], labels[:50], tmp_path, epochs=1)
    assert again.test_acc == first.test_acc
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()))
