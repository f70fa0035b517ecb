"""The gradient reversal layer, the DANN schedules and the network's gradient paths, on known answers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from visionlab.adapt.grl import grad_reverse, lambda_schedule, lr_schedule
from visionlab.adapt.nets import DANN


def test_grl_is_identity_forward_and_flips_and_scales_the_gradient() -> None:
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    w = torch.tensor([0.5, 2.0, -1.0])
    y = grad_reverse(x, 0.3)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    assert torch.allclose(x.grad, -0.3 * w)


def test_grl_negative_factor_passes_the_gradient_with_its_sign() -> None:
    x = torch.ones(4, requires_grad=True)
    (grad_reverse(x, -2.0) * 3).sum().backward()
    assert torch.allclose(x.grad, torch.full((4,), 6.0))


def test_grl_gradcheck() -> None:
    """torch.autograd.gradcheck compares the backward with finite differences of the forward (the identity):
    they agree exactly when the GRL passes the gradient unchanged (coeff -1) and disagree for any reversal."""
    x = torch.randn(3, 2, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: torch.sin(grad_reverse(t, -1.0)), (x,))
    assert not torch.autograd.gradcheck(lambda t: grad_reverse(t, 1.7), (x,), raise_exception=False)
    # by hand: y = sin(GRL(x)) has dy/dx = -coeff * cos(x) (the upstream gradient cos(x), reversed and scaled)
    (g,) = torch.autograd.grad(torch.sin(grad_reverse(x, 1.7)).sum(), x)
    assert torch.allclose(g, -1.7 * torch.cos(x))


def test_schedules_match_the_paper() -> None:
    assert lambda_schedule(0.0) == 0.0
    assert lambda_schedule(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert lambda_schedule(0.1) == pytest.approx(2 / (1 + math.exp(-1)) - 1)  # 0.4621
    assert lr_schedule(0.0) == pytest.approx(0.01)
    assert lr_schedule(1.0) == pytest.approx(0.01 / 11**0.75)  # 0.00166


@pytest.mark.parametrize("arch", ["canonical", "bn"])
def test_dann_shapes(arch: str) -> None:
    net = DANN(arch)
    logits, dlogits, f = net(torch.randn(4, 3, 32, 32))
    assert logits.shape == (4, 10) and dlogits.shape == (4,) and f.shape == (4, net.feature_dim)
    if arch == "canonical":
        assert net.feature_dim == 48 * 5 * 5
        assert [m.out_features for m in net.classifier if isinstance(m, torch.nn.Linear)] == [100, 100, 10]
        assert [m.out_features for m in net.domain if isinstance(m, torch.nn.Linear)] == [100, 1]


def _feature_grad(net: DANN, x: torch.Tensor, coeff: float) -> torch.Tensor:
    net.zero_grad()
    _, dlogits, _ = net(x, coeff)
    F.binary_cross_entropy_with_logits(dlogits, torch.ones_like(dlogits)).backward()
    return net.features[0].weight.grad.clone()


def test_domain_gradient_reaches_the_features_reversed_scaled_or_not_at_all() -> None:
    torch.manual_seed(0)
    net = DANN("canonical")
    x = torch.randn(8, 3, 32, 32)
    g_rev = _feature_grad(net, x, 1.0)
    g_plain = _feature_grad(net, x, -1.0)
    g_half = _feature_grad(net, x, 0.5)
    assert g_rev.abs().sum() > 0
    assert torch.allclose(g_rev, -g_plain, atol=1e-7)
    assert torch.allclose(g_half, 0.5 * g_rev, atol=1e-7)
    net.zero_grad()
    _, dlogits, _ = net(x, 0.0)
    dlogits.sum().backward()
    assert net.features[0].weight.grad is None and net.domain[0].weight.grad is not None
