"""Class-model ascent on a linear model (known step), sweeps, class names with suggestions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionlab.errors import UsageError
from visionlab.visualize.ascent import Ascent, draw_shifts, roll, visualize_classes
from visionlab.visualize.inputs import resolve_class
from visionlab.visualize.sweep import parse_sweep

MEAN = torch.full((1, 3, 1, 1), 0.5)
STD = torch.full((1, 3, 1, 1), 0.5)


def _linear() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4)).eval()
    model.requires_grad_(False)
    return model


def test_one_step_moves_the_normalized_image_along_the_unit_gradient() -> None:
    model = _linear()
    init = torch.full((2, 3, 8, 8), 0.5)  # z = 0: no clamp, L2 term has no gradient
    targets = torch.tensor([1, 3])
    s = Ascent.constant(2, lr=0.4, l2=0.0, blur_every=0, jitter=0, iterations=1)
    final, _ = visualize_classes(model, MEAN, STD, targets, init, s, [])
    g = model[1].weight[targets].view(2, 3, 8, 8) * STD  # d score / dz = W * std
    z1 = 0.4 * g / g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    torch.testing.assert_close(final, (z1 * STD + MEAN).clamp(0, 1))


def test_ascent_raises_the_score_keeps_pixels_valid_and_respects_iterations() -> None:
    model = _linear()
    init = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([0, 2, 2])
    s = Ascent.constant(3, lr=1.0, l2=1e-3, blur_every=0, jitter=0, iterations=15)
    s.iterations[2] = 0  # the third image takes no step at all
    final, snaps = visualize_classes(model, MEAN, STD, targets, init, s, [0, 15], torch.Generator().manual_seed(0))
    before = model(init)[torch.arange(3), targets]
    after = model(final)[torch.arange(3), targets]
    assert (after[:2] > before[:2] + 0.3).all()
    torch.testing.assert_close(final[2], init[2])
    assert float(final.min()) >= 0 and float(final.max()) <= 1
    assert set(snaps) == {0, 15}
    torch.testing.assert_close(snaps[0], init)
    s = Ascent.constant(3, lr=1.0, l2=1e-3, blur_every=2, jitter=3, iterations=6)  # blur and jitter: still valid
    final, _ = visualize_classes(model, MEAN, STD, targets, init, s, [], torch.Generator().manual_seed(0))
    assert float(final.min()) >= 0 and float(final.max()) <= 1 and not torch.equal(final, init)


def test_parse_sweep() -> None:
    assert parse_sweep("lr=1,5,9") == ("lr", [1.0, 5.0, 9.0])
    assert parse_sweep("blur-every=0,2") == ("blur_every", [0.0, 2.0])
    for bad in ("lr", "speed=1,2", "lr=a,b", "iterations=1.5", "l2="):
        with pytest.raises(ValueError):
            parse_sweep(bad)


def test_class_names_indices_and_suggestions() -> None:
    assert resolve_class("tarantula") == 76
    assert resolve_class("Tiger_Cat") == 282
    assert resolve_class("76") == 76
    with pytest.raises(UsageError, match="out of range"):
        resolve_class("1000")
    with pytest.raises(UsageError) as err:
        resolve_class("tarantla")
    assert "'tarantula'" in str(err.value)


def test_roll_on_the_device_is_torch_roll_image_by_image() -> None:
    z = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    shifts = torch.tensor([[1, -2], [3, 0]])
    expected = torch.stack([torch.roll(z[i], tuple(shifts[i].tolist()), dims=(1, 2)) for i in range(2)])
    assert torch.equal(roll(z, shifts), expected)
    assert torch.equal(roll(roll(z, shifts), -shifts), z)
    # the same draws, in the same order, as one torch.randint per image from the seeded generator
    g, h = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    drawn = draw_shifts([0, 3, 16], torch.device("cpu"), g)
    assert torch.equal(drawn, torch.stack([torch.randint(0, j + 1, (2,), generator=h) for j in (0, 3, 16)]))
