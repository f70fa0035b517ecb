"""R1, the gradient penalty on D's real inputs (Mescheder et al. 2018), by hand: the penalty of a linear and a
quadratic D, its exact share of D's update in a step, and the option's validation."""

from __future__ import annotations

import pytest
import torch

from visionlab.errors import UsageError
from visionlab.generate.commands import DcganConfig, SweepConfig
from visionlab.generate.nets import DSpec, build
from visionlab.generate.steps import StepSettings, make_step, r1_penalty
from visionlab.generate.train import step_settings


def test_the_penalty_of_a_linear_and_a_quadratic_d_by_hand() -> None:
    x = torch.randn(5, 1, 4, 4, generator=torch.Generator().manual_seed(0), requires_grad=True)
    w = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    linear = (x * w).flatten(1).sum(dim=1)  # the same gradient w for every image
    assert r1_penalty(linear, x).item() == pytest.approx(w.pow(2).sum().item(), rel=1e-6)
    quadratic = x.pow(2).flatten(1).sum(dim=1)  # gradient 2x: the mean of 4|x_i|^2
    assert r1_penalty(quadratic, x).item() == pytest.approx(4 * x.detach().pow(2).flatten(1).sum(1).mean().item())
    # the gradient stays in the graph: D's loss can descend on it (d/dw of |w|^2 is 2w)
    w.requires_grad_(True)
    (grad_w,) = torch.autograd.grad(r1_penalty((x * w).flatten(1).sum(dim=1), x), w)
    assert torch.allclose(grad_w, 2 * w.detach())


def _d_after_one_step(gamma: float, pack: int = 1, classes: int = 0) -> list[torch.Tensor]:
    torch.manual_seed(0)
    g, d = build(classes > 0, 8, 4, 4, 1, classes, spec=DSpec(pack=pack))
    opt_g, opt_d = torch.optim.SGD(g.parameters(), lr=0.0), torch.optim.SGD(d.parameters(), lr=0.1)
    batch = (torch.randn(8, 1, 32, 32, generator=torch.Generator().manual_seed(3)), torch.arange(8) % 4)
    settings = StepSettings(nz=8, g_loss="non-saturating", classes=classes, pack=pack, r1=gamma)
    make_step(g, d, opt_g, opt_d, settings, noise=torch.Generator().manual_seed(2))(batch, 0.0)
    return [p.detach().clone() for p in d.parameters()]


@pytest.mark.parametrize("pack", [1, 2])
def test_a_step_adds_exactly_gamma_over_two_times_the_penalty_gradient_to_d(pack: int) -> None:
    """With SGD (rate 0.1) D's parameters after a step with R1 weight 2 differ from those without by
    -0.1 x (2 / 2) x the penalty's gradient at D's starting weights, computed here on the same real batch."""
    without, with_r1 = _d_after_one_step(0.0, pack), _d_after_one_step(2.0, pack)
    torch.manual_seed(0)
    _, d = build(False, 8, 4, 4, 1, spec=DSpec(pack=pack))
    x = torch.randn(8, 1, 32, 32, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    packed_x = x.reshape(8 // pack, pack, 32, 32)
    grads = torch.autograd.grad(r1_penalty(d(packed_x), x), list(d.parameters()))
    moved = False
    for a, b, grad in zip(without, with_r1, grads, strict=True):
        assert torch.allclose(b - a, -0.1 * grad, atol=1e-6)
        moved |= bool(grad.abs().max() > 1e-4)
    assert moved  # the penalty did change D


def test_the_option_reaches_the_step_and_is_validated() -> None:
    assert step_settings(DcganConfig(device="cpu", r1=1.0), 0).r1 == 1.0
    assert step_settings(DcganConfig(device="cpu"), 0).r1 == 0.0
    for config in (DcganConfig, SweepConfig):
        with pytest.raises(UsageError, match="--r1 must be >= 0"):
            config(device="cpu", r1=-1.0).validate()
    # a conditional step ignores it (the option belongs to the DCGAN): D moves exactly as without it
    for a, b in zip(_d_after_one_step(0.0, classes=10), _d_after_one_step(5.0, classes=10), strict=True):
        assert torch.equal(a, b)
