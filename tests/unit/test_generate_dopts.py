"""The discriminator's options by hand: projection (Miyato 2018), one-sided label smoothing (Salimans 2016),
the minibatch-std feature (Karras 2018) and PacGAN's packing (Lin 2018); the DCGAN's mode-seeking term and the
two time-scale learning rates (Heusel 2017); their validation."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from visionlab.errors import UsageError
from visionlab.generate.commands import CganConfig, DcganConfig, SweepConfig
from visionlab.generate.nets import DSpec, MinibatchStd, ProjectionDiscriminator, build
from visionlab.generate.steps import (
    StepSettings,
    discriminator_loss,
    generator_loss,
    make_step,
    mode_seeking_loss,
    packed,
)
from visionlab.generate.train import optimizers, step_settings


def test_the_projection_term_is_the_inner_product_of_the_class_embedding_and_phi() -> None:
    torch.manual_seed(0)
    d = ProjectionDiscriminator(ndf=4, nc=1, n_classes=3).eval()
    x = torch.randn(2, 1, 32, 32)
    phi = d.phi(x).flatten(1)  # (2, 4*4*16)
    assert phi.shape == (2, 256) and d.embed.weight.shape == (256, 3)
    unconditional = d(x, torch.zeros(2, 3))  # no class: psi(phi(x)) alone
    assert torch.allclose(unconditional, d.psi(d.phi(x)).view(-1))
    y = torch.tensor([2, 0])
    scores = d(x, F.one_hot(y, 3).float())
    by_hand = torch.stack([torch.dot(d.embed.weight[:, 2], phi[0]), torch.dot(d.embed.weight[:, 0], phi[1])])
    assert torch.allclose(scores - unconditional, by_hand, atol=1e-5)
    # soft labels mix the classes' terms linearly: half of class 1 plus half of class 2
    soft = d(x[:1], torch.tensor([[0.0, 0.5, 0.5]])) - unconditional[:1]
    want = 0.5 * torch.dot(d.embed.weight[:, 1], phi[0]) + 0.5 * torch.dot(d.embed.weight[:, 2], phi[0])
    assert soft.item() == pytest.approx(want.item(), abs=1e-5)


def test_a_projection_d_without_embedding_ignores_the_label() -> None:
    torch.manual_seed(0)
    d = ProjectionDiscriminator(ndf=4, nc=1, n_classes=10).eval()
    torch.nn.init.zeros_(d.embed.weight)
    x = torch.randn(1, 1, 32, 32).expand(10, -1, -1, -1)
    scores = d(x, torch.eye(10))
    assert torch.allclose(scores, scores[:1].expand(10))


def test_build_picks_the_projection_d_and_inits_its_embedding_like_the_convolutions() -> None:
    torch.manual_seed(0)
    _, d = build(True, 8, 32, 32, 1, 10, spec=DSpec(cond="projection"))
    assert isinstance(d, ProjectionDiscriminator)
    w = d.embed.weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.002
    _, concat = build(True, 8, 32, 32, 1, 10)
    assert not isinstance(concat, ProjectionDiscriminator)


def test_one_sided_label_smoothing_adds_one_minus_t_times_the_mean_real_logit() -> None:
    """BCE(l, t) - BCE(l, 1) = (1 - t) l, so t = 0.9 adds 0.1 * mean(real logits) = 0.1 * 0.5 = 0.05."""
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([-1.0, 0.0])
    plain = discriminator_loss(real, fake)
    assert plain.item() == pytest.approx((0.126928 + 1.313262) / 2 + (0.313262 + 0.693147) / 2, abs=1e-5)
    smooth = discriminator_loss(real, fake, real_label=0.9)
    assert smooth.item() - plain.item() == pytest.approx(0.05, abs=1e-6)
    # D stops gaining once D(x) = 0.9: the real logit's gradient vanishes at l = log 9
    logit = torch.tensor([math.log(9.0)], requires_grad=True)
    discriminator_loss(logit, torch.tensor([-5.0]), real_label=0.9).backward()
    assert abs(logit.grad.item()) < 1e-6
    # the fakes' target stays 0: the smoothing leaves the fake term alone
    wrong = torch.tensor([0.5])
    both = discriminator_loss(real, fake, wrong, 0.5, 0.9) - discriminator_loss(real, fake, wrong, 0.5)
    assert both.item() == pytest.approx(0.05, abs=1e-6)


def test_minibatch_std_appends_each_groups_std_by_hand() -> None:
    """Groups of 2 in a batch of 4 are images (0, 2) and (1, 3), Karras's (group, B / group) reshape."""
    x = torch.zeros(4, 2, 2, 2)
    x[0, 0], x[0, 1] = 0.0, 0.0
    x[2, 0], x[2, 1] = 2.0, 4.0  # per feature std over (0, 2): 1 and 2 -> 1.5
    x[1], x[3] = 1.0, 1.0  # identical: std sqrt(1e-8) = 1e-4
    out = MinibatchStd(2)(x)
    assert out.shape == (4, 3, 2, 2) and torch.equal(out[:, :2], x)
    want = torch.tensor([1.5, 1e-4, 1.5, 1e-4]).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    assert torch.allclose(out[:, 2:], want, atol=1e-7)
    with pytest.raises(ValueError, match="groups of 4"):
        MinibatchStd(4)(torch.zeros(6, 1, 2, 2))


def test_a_dcgan_d_with_minibatch_std_reads_one_more_map_before_its_last_convolution() -> None:
    _, d = build(False, 8, 4, 4, 1, spec=DSpec(mbstd=4))
    assert isinstance(d.net[-2], MinibatchStd) and d.net[-1].in_channels == 4 * 4 + 1
    assert d(torch.randn(8, 1, 32, 32)).shape == (8,)


def test_packing_stacks_consecutive_images_along_channels() -> None:
    x = torch.arange(4 * 2 * 2 * 2, dtype=torch.float32).view(4, 2, 2, 2)
    p = packed(x, 2)
    assert p.shape == (2, 4, 2, 2)
    assert torch.equal(p[0], torch.cat([x[0], x[1]])) and torch.equal(p[1], torch.cat([x[2], x[3]]))
    assert packed(x, 1) is x


def test_a_packed_dcgan_step_scores_pairs_of_images() -> None:
    torch.manual_seed(0)
    g, d = build(False, 8, 4, 4, 1, spec=DSpec(pack=2))
    assert d.net[0].in_channels == 2
    seen = []
    d.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0].shape))
    opt_g, opt_d = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    step = make_step(g, d, opt_g, opt_d, StepSettings(nz=8, g_loss="non-saturating", pack=2))
    logs = step((torch.randn(6, 1, 32, 32), torch.zeros(6, dtype=torch.long)), 0.0)
    assert seen == [torch.Size([3, 2, 32, 32])] * 3  # real, fake for D, fake for G
    assert all(torch.isfinite(v) for v in logs.values())


def test_a_dcgan_step_with_mode_seeking_adds_the_weighted_term_to_gs_loss() -> None:
    """Optimizers with learning rate 0 leave G and D as they are, so the step's G loss can be redone by hand from
    the same two noise draws: BCE(D(G(z)), 1) + 0.5 / (mean|G(z) - G(z2)| / mean|z - z2| + 1e-5)."""
    torch.manual_seed(0)
    g, d = build(False, 8, 4, 4, 1)
    opt_g, opt_d = torch.optim.SGD(g.parameters(), lr=0.0), torch.optim.SGD(d.parameters(), lr=0.0)
    batch = (torch.randn(6, 1, 32, 32), torch.zeros(6, dtype=torch.long))
    logs = {}
    for weight in (0.0, 0.5):
        step = make_step(g, d, opt_g, opt_d, StepSettings(nz=8, g_loss="non-saturating", mode_seeking=weight),
                         noise=torch.Generator().manual_seed(7))  # fmt: skip
        logs[weight] = step(batch, 0.0)["loss_g"]
    noise = torch.Generator().manual_seed(7)
    z, z2 = torch.randn(6, 8, generator=noise), torch.randn(6, 8, generator=noise)
    with torch.no_grad():
        fake, other = g(z), g(z2)
        plain = generator_loss(d(fake), "non-saturating")
        ratio = (fake - other).abs().mean() / (z - z2).abs().mean()
    assert logs[0.0].item() == pytest.approx(plain.item(), rel=1e-6)
    assert logs[0.5].item() == pytest.approx(plain.item() + 0.5 / (ratio.item() + 1e-5), rel=1e-6)
    assert mode_seeking_loss(fake, other, z, z2).item() == pytest.approx(1 / (ratio.item() + 1e-5), rel=1e-6)
    assert step_settings(DcganConfig(device="cpu", mode_seeking=0.5), 0).mode_seeking == 0.5
    assert step_settings(DcganConfig(device="cpu"), 0).mode_seeking == 0.0  # off by default in the DCGAN


def test_a_spectral_d_has_no_batch_norm_and_every_convolution_at_singular_value_one() -> None:
    """SN-GAN's D: the batch norms are gone, and after enough training passes (one power iteration each) the
    largest singular value of every convolution's weight, as a (out, in * k * k) matrix, is 1; the weights it
    normalizes are the paper's N(0, 0.02) draws."""
    torch.manual_seed(0)
    _, d = build(False, 8, 4, 4, 1, spec=DSpec(norm="spectral", pack=2))
    _, plain = build(False, 8, 4, 4, 1, spec=DSpec(pack=2))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules()) == 2
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 4 and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in convs)
    raw = torch.cat([m.parametrizations.weight.original.detach().flatten() for m in convs])
    assert abs(float(raw.std()) - 0.02) < 0.002
    x = torch.randn(4, 2, 32, 32)
    for _ in range(200):
        d(x)
    d.eval()
    for m in convs:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=1e-3)
    assert d(x).shape == (4,)  # four packed pairs


@pytest.mark.parametrize(("lr", "lr_d", "want_d"), [(1e-4, 4e-4, 4e-4), (2e-4, 0.0, 2e-4)])
def test_adams_first_step_moves_every_weight_by_its_networks_learning_rate(lr, lr_d, want_d) -> None:  # noqa: ANN001
    """Adam's first step is lr * g / (|g| + eps) per weight: each weight of G moves by --lr, of D by --lr-d
    (0: --lr); in float64, so that the step is not lost in the rounding of weights near 1."""
    torch.manual_seed(0)
    g, d = (net.double() for net in build(False, 8, 4, 4, 1))
    before = [[p.detach().clone() for p in net.parameters()] for net in (g, d)]
    cfg = DcganConfig(device="cpu", lr=lr, lr_d=lr_d)
    for net, opt in zip((g, d), optimizers(cfg, g, d)):
        assert opt.defaults["betas"] == (0.5, 0.999)
        for p in net.parameters():
            p.grad = torch.where(torch.rand_like(p) < 0.5, -0.3, 0.7).double()
        opt.step()
    for net, old, want in zip((g, d), before, (lr, want_d)):
        moved = torch.cat([(p.detach() - o).abs().flatten() for p, o in zip(net.parameters(), old)])
        assert torch.allclose(moved, torch.full_like(moved, want), rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    ("config", "fields", "says"),
    [
        (DcganConfig, {"mbstd": 1}, "--mbstd must be 0 or >= 2"),
        (DcganConfig, {"mbstd": 3}, "--mbstd 3 does not divide"),
        (DcganConfig, {"pack": 3}, "--pack 3 does not divide"),
        (DcganConfig, {"pack": 0}, "--pack must be >= 1"),
        (DcganConfig, {"pack": 16, "mbstd": 16}, "packed inputs"),
        (SweepConfig, {"devices": 2, "batch_size": 12, "pack": 4}, "6 images per process"),
        (CganConfig, {"real_label": 0.5}, "--real-label must be in (0.5, 1]"),
        (DcganConfig, {"real_label": 1.1}, "--real-label must be in (0.5, 1]"),
        (DcganConfig, {"mode_seeking": -1.0}, "--mode-seeking must be >= 0"),
        (CganConfig, {"lr_d": -1e-4}, "--lr-d must be >= 0"),
    ],
)
def test_bad_discriminator_options_are_refused(config, fields, says) -> None:  # noqa: ANN001
    with pytest.raises(UsageError, match=re.escape(says)):
        config(device="cpu", **fields).validate()


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        (DcganConfig, {"mbstd": 4, "pack": 2}),
        (SweepConfig, {"pack": 2}),
        (CganConfig, {"d_cond": "projection"}),
        (DcganConfig, {"mode_seeking": 1.0, "lr": 1e-4, "lr_d": 4e-4}),
        (SweepConfig, {"d_norm": "spectral", "pack": 2}),
    ],
)
def test_good_discriminator_options_pass(config, fields) -> None:  # noqa: ANN001
    config(device="cpu", **fields).validate()
