"""Attribution maps: known answers on tiny models (a linear model's gradient is its weight row)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionlab.visualize.attribution import (
    AttributionSettings,
    attribute,
    attribute_batches,
    normalize_maps,
    top_mass,
)


@pytest.fixture
def linear() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 5, 6)).eval()


def _conv() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 5, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(5, 7),
    ).eval()


def test_vanilla_saliency_of_a_linear_model_is_its_weight_row(linear: nn.Module) -> None:
    x = torch.rand(2, 3, 4, 5)
    targets = torch.tensor([1, 4])
    maps = attribute(linear, x, targets, "saliency")
    weight = linear[1].weight.detach().view(6, 3, 4, 5)
    expected = weight[targets].abs().amax(dim=1)  # |d score / d pixel|, max over colour channels
    assert maps.shape == (2, 4, 5)
    torch.testing.assert_close(maps, expected)


def test_batched_saliency_equals_hand_gradients_image_by_image() -> None:
    model = _conv()
    x = torch.rand(3, 3, 8, 8)
    targets = torch.tensor([0, 3, 6])
    maps = attribute(model, x, targets, "saliency")
    for i in range(3):
        xi = x[i : i + 1].clone().requires_grad_(True)
        model(xi)[0, targets[i]].backward()
        torch.testing.assert_close(maps[i], xi.grad[0].abs().amax(dim=0))


def test_integrated_gradients_of_a_linear_model_is_input_times_weight(linear: nn.Module) -> None:
    x = torch.rand(2, 3, 4, 5)
    targets = torch.tensor([2, 5])
    maps = attribute(linear, x, targets, "integrated-gradients", AttributionSettings(steps=8))
    weight = linear[1].weight.detach().view(6, 3, 4, 5)
    torch.testing.assert_close(maps, (x * weight[targets]).abs().amax(dim=1), rtol=1e-4, atol=1e-6)


def test_smoothgrad_without_noise_is_vanilla_and_chunks_agree() -> None:
    model = _conv()
    x = torch.rand(5, 3, 8, 8)
    targets = torch.tensor([0, 1, 2, 3, 4])
    vanilla = attribute(model, x, targets, "saliency")
    smooth = attribute(model, x, targets, "smoothgrad", AttributionSettings(samples=3, noise=0.0))
    torch.testing.assert_close(smooth, vanilla)
    torch.testing.assert_close(attribute_batches(model, x, targets, "saliency", batch_size=2), vanilla)


def test_gradcam_maps_have_the_image_size_and_are_non_negative() -> None:
    model = _conv()
    x = torch.rand(2, 3, 8, 8)
    maps = attribute(model, x, torch.tensor([1, 2]), "gradcam", AttributionSettings(layer=model[3]))
    assert maps.shape == (2, 8, 8) and (maps >= 0).all()
    with pytest.raises(ValueError):
        attribute(model, x, torch.tensor([1, 2]), "gradcam")


def test_top_mass_and_normalization_known_answers() -> None:
    peaked = torch.zeros(1, 10, 10)
    peaked[0, 3, 3] = 5.0
    flat = torch.ones(1, 10, 10)
    assert top_mass(peaked).item() == pytest.approx(1.0)
    assert top_mass(flat).item() == pytest.approx(0.1)
    norm = normalize_maps(torch.tensor([[[2.0, 4.0], [6.0, 10.0]]]))
    torch.testing.assert_close(norm, torch.tensor([[[0.0, 0.25], [0.5, 1.0]]]))
