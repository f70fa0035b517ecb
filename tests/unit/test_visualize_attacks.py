"""Attacks on tiny models: the L-inf bound and [0, 1] clamp, FGSM's hand-computed step, torchattacks agreement."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionlab.visualize import attacks
from visionlab.visualize.adversarial import choose_targets


def _linear(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 6 * 6, 5)).eval()
    model.requires_grad_(False)
    return model


def _images(n: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    x = torch.rand(n, 3, 6, 6, generator=g)
    x[:, 0, :2] = 0.0  # pixels at both ends of the range: the clamp must hold them in [0, 1]
    x[:, 1, :2] = 1.0
    return x


def test_pgd_stays_in_the_eps_ball_and_in_pixel_range() -> None:
    model, x = _linear(), _images()
    labels = model(x).argmax(1)
    targets = (labels + 1) % 5
    eps = 2 / 255
    res = attacks.pgd(model, x, labels, targets, eps=eps, alpha=eps, steps=30, early_stop=False)
    linf, _ = attacks.perturbation_norms(x, res.images)
    assert float(linf.max()) <= eps + 1e-6
    assert float(res.images.min()) >= 0.0 and float(res.images.max()) <= 1.0
    assert (res.steps == 30).all()


def test_pgd_matches_torchattacks_without_random_start_or_early_stop() -> None:
    import torchattacks

    model, x = _linear(1), _images()
    labels = model(x).argmax(1)
    targets = (labels + 2) % 5
    ours = attacks.pgd(model, x, labels, targets, eps=0.03, alpha=0.01, steps=5, random_start=False, early_stop=False)
    ref = torchattacks.PGD(model, eps=0.03, alpha=0.01, steps=5, random_start=False)
    ref.set_mode_targeted_by_label(quiet=True)
    torch.testing.assert_close(ours.images, ref(x, targets))


def test_targeted_fgsm_is_one_signed_step_down_the_target_cross_entropy() -> None:
    model, x = _linear(2), _images(3)
    labels = model(x).argmax(1)
    targets = (labels + 1) % 5
    eps = 0.05
    res = attacks.fgsm(model, x, labels, targets, eps)
    w = model[1].weight
    p = model(x).softmax(1)
    grad = (p @ w - w[targets]).view_as(x)  # d CE(target) / dx for logits = W x + b, by hand
    expected = (x - eps * grad.sign()).clamp(0, 1)
    torch.testing.assert_close(res.images, expected)


def test_naive_ascent_reaches_the_target_and_stops_there() -> None:
    model, x = _linear(3), _images()
    labels = model(x).argmax(1)
    targets = (labels + 3) % 5
    res = attacks.naive(model, x, labels, targets, step_size=0.5, steps=200)
    assert (model(res.images).argmax(1) == targets).all()
    assert (res.steps >= 1).all() and (res.steps < 200).all()
    # stopping at the first success: one step fewer must not already succeed
    again = attacks.naive(model, x, labels, targets, step_size=0.5, steps=int(res.steps.min()) - 1)
    assert not attacks.success(model(again.images), labels, targets).all()


def test_untargeted_success_means_leaving_the_label() -> None:
    logits = torch.tensor([[0.1, 3.0, 0.2], [2.0, 0.0, 0.1], [0.0, 0.0, 5.0]])
    labels = torch.tensor([1, 1, 0])
    targets = torch.tensor([-1, -1, 2])
    assert attacks.success(logits, labels, targets).tolist() == [False, True, True]


def test_random_targets_avoid_the_label_and_repeat_with_the_seed() -> None:
    labels = torch.arange(1000)
    a = choose_targets("random", labels, 1000, seed=7)
    assert (a != labels).all() and (a >= 0).all() and (a < 1000).all()
    assert torch.equal(a, choose_targets("random", labels, 1000, seed=7))
    assert not torch.equal(a, choose_targets("random", labels, 1000, seed=8))
    assert (choose_targets("untargeted", labels[:3], 1000, 0) == -1).all()
    assert (choose_targets("tarantula", labels[:3], 1000, 0) == 76).all()


def test_perturbation_norms_known_answer() -> None:
    x = torch.zeros(1, 3, 2, 2)
    adv = x.clone()
    adv[0, 0, 0, 0] = 0.3
    adv[0, 2, 1, 1] = -0.4
    linf, l2 = attacks.perturbation_norms(x, adv)
    assert linf.item() == pytest.approx(0.4) and l2.item() == pytest.approx(0.5)
