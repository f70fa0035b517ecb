"""DCGAN / CGAN networks, the generator losses' gradients, and the sweep's parser."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionlab.generate.interpolate import strip_stats
from visionlab.generate.nets import CondDiscriminator, CondGenerator, Discriminator, Generator, build
from visionlab.generate.steps import discriminator_loss, generator_loss, mode_seeking_loss, wrong_labels
from visionlab.generate.sweep import parse_param


@pytest.mark.parametrize("nc", [1, 3])
def test_dcgan_shapes_and_range(nc: int) -> None:
    g, d = Generator(nz=7, ngf=4, nc=nc), Discriminator(ndf=4, nc=nc)
    x = g(torch.randn(5, 7))
    assert x.shape == (5, nc, 32, 32) and x.abs().max() <= 1.0
    assert d(x).shape == (5,)


def test_cgan_label_branch_changes_the_image_and_the_score() -> None:
    torch.manual_seed(0)
    g, d = CondGenerator(nz=8, ngf=4, nc=1, n_classes=10).eval(), CondDiscriminator(ndf=4, nc=1, n_classes=10).eval()
    z = torch.randn(1, 8).expand(2, -1)
    y = F.one_hot(torch.tensor([2, 7]), 10).float()
    x = g(z, y)
    assert x.shape == (2, 1, 32, 32) and not torch.allclose(x[0], x[1])
    same = x[:1].expand(2, -1, -1, -1)
    scores = d(same, y)
    assert scores.shape == (2,) and scores[0] != scores[1]
    # the two branches are separate until they are concatenated: 2*ngf maps each
    assert g.z_branch[0].out_channels == g.y_branch[0].out_channels == 8 and g.net[0].in_channels == 16


def test_paper_init_draws_weights_with_std_0_02() -> None:
    torch.manual_seed(0)
    g, _ = build(False, 100, 32, 32, 1, init="paper")
    w, bn = g.net[3].weight.detach(), g.net[1].weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.002
    assert abs(float(bn.std()) - 0.02) < 0.005 and abs(float(bn.mean()) - 1) < 0.01
    g_default, _ = build(False, 100, 32, 32, 1, init="default")
    # PyTorch's default: uniform within 1/sqrt(fan_in) (no Gaussian tail), batch-norm scale exactly 1
    bound = 1 / (g_default.net[3].weight.shape[1] * 16) ** 0.5
    assert float(g_default.net[3].weight.detach().abs().max()) <= bound
    assert torch.equal(g_default.net[1].weight.detach(), torch.ones(128))


@pytest.mark.parametrize("kind", ["non-saturating", "minimax"])
def test_generator_loss_gradients(kind: str) -> None:
    logit = torch.tensor([-6.0, 0.0, 3.0], requires_grad=True)
    generator_loss(logit, kind).backward()
    s = torch.sigmoid(logit.detach())
    want = (-s if kind == "minimax" else s - 1) / 3  # mean over the batch
    assert torch.allclose(logit.grad, want, atol=1e-6)


def test_minimax_gradient_vanishes_when_d_rejects_the_samples() -> None:
    grads = {}
    for kind in ("non-saturating", "minimax"):
        logit = torch.tensor([-8.0], requires_grad=True)  # D(G(z)) = 0.0003
        generator_loss(logit, kind).backward()
        grads[kind] = abs(float(logit.grad))
    assert grads["minimax"] < 1e-3 < 0.99 < grads["non-saturating"]


def test_parse_param_knows_every_sweep_of_the_practical() -> None:
    key, variants = parse_param("ngf_ndf=256/8,8/256,32/32")
    assert key == "ngf_ndf" and variants[0] == ("ngf_ndf=256/8", {"ngf": 256, "ndf": 8})
    assert parse_param("g-loss=non-saturating,minimax")[1][1][1] == {"g_loss": "minimax"}
    assert [f["nz"] for _, f in parse_param("nz=2,10,100,1000")[1]] == [2, 10, 100, 1000]
    assert parse_param("init=paper,default")[1][1][1] == {"init": "default"}


@pytest.mark.parametrize("bad", ["ngf_ndf=256", "nz=0", "init=xavier", "colour=red", "nz", "nz=2,2", "lr=-1"])
def test_parse_param_refuses_bad_specs(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_param(bad)


def test_strip_stats_of_an_even_ramp() -> None:
    ramp = torch.linspace(0, 200, 5).round().to(torch.uint8).view(5, 1, 1, 1).expand(5, 1, 4, 4)
    mean, ratio = strip_stats(ramp)
    assert mean == pytest.approx(50 / 255, abs=1e-6) and ratio == pytest.approx(1.0)


def test_matching_aware_discriminator_loss_by_hand() -> None:
    """Reed 2016 at w = 0.5: softplus(-2) + (softplus(-1) + softplus(0.5)) / 2, and d/d wrong = w sigmoid(wrong)."""
    real, fake = torch.tensor([2.0]), torch.tensor([-1.0])
    wrong = torch.tensor([0.5], requires_grad=True)
    loss = discriminator_loss(real, fake, wrong, mismatch=0.5)
    assert loss.item() == pytest.approx(0.126928 + 0.5 * 0.313262 + 0.5 * 0.974077, abs=1e-5)
    loss.backward()
    assert wrong.grad.item() == pytest.approx(0.5 * torch.sigmoid(torch.tensor(0.5)).item(), abs=1e-6)
    plain = discriminator_loss(real, fake)
    assert plain.item() == pytest.approx(0.126928 + 0.313262, abs=1e-5)
    assert discriminator_loss(real, fake, wrong.detach(), mismatch=0.0).item() == pytest.approx(plain.item())
    # a D that ignores the label scores (x, y') like (x, y) = 2: it pays softplus(2) on half the negatives
    blind = discriminator_loss(real, fake, real, mismatch=0.5)
    assert blind.item() == pytest.approx(0.126928 + 0.5 * 0.313262 + 0.5 * 2.126928, abs=1e-5)
    assert blind.item() > loss.item()


def test_wrong_labels_are_never_the_true_label_and_cover_the_others() -> None:
    torch.manual_seed(0)
    labels = torch.full((5000,), 3)
    wrong = wrong_labels(labels, 10)
    assert not (wrong == labels).any()
    assert set(wrong.tolist()) == set(range(10)) - {3}


def test_mode_seeking_loss_by_hand() -> None:
    """|a - b| = 0.5, |za - zb| = 2: ratio 0.25, term 1 / 0.25 = 4; its gradient pushes a away from b."""
    a = torch.zeros(2, 2, requires_grad=True)
    b = torch.full((2, 2), 0.5)
    loss = mode_seeking_loss(a, b, torch.zeros(2, 3), torch.full((2, 3), 2.0))
    assert loss.item() == pytest.approx(4.0, abs=1e-3)
    loss.backward()
    # d(1/r)/da_i = -1/r^2 * sign(a_i - b_i) / (4 * 2) = -16 * -0.125 = 2: gradient descent lowers a, away from b
    assert torch.allclose(a.grad, torch.full((2, 2), 2.0), atol=1e-3)
    same = mode_seeking_loss(b, b.clone(), torch.zeros(2, 3), torch.ones(2, 3))
    assert same.item() == pytest.approx(1e5, rel=1e-6)
