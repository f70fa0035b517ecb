"""The gradient reversal layer and the schedules of DANN (Ganin & Lempitsky 2015; Ganin et al., JMLR 2016).

The GRL is the identity in the forward pass and multiplies the gradient by `-lambda` in the backward
pass, so one backward pass trains the domain classifier to separate the domains while it pushes the
feature extractor to make them indistinguishable.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class GradientReversal(torch.autograd.Function):
    """Identity forward, `-coeff * grad` backward (Ganin & Lempitsky 2015, eq. 13-14)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, coeff: float) -> torch.Tensor:  # noqa: D102
        ctx.coeff = float(coeff)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: D102
        return -ctx.coeff * grad, None


def grad_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Apply the GRL: `x` unchanged, its gradient times `-coeff`.

    A negative `coeff` gives the "no GRL" case: the domain loss's gradient reaches the features
    with its own sign (times `|coeff|`), so the features help the domain classifier.

    Example:
        >>> x = torch.ones(2, requires_grad=True)
        >>> grad_reverse(x, 0.5).sum().backward()
        >>> x.grad.tolist()
        [-0.5, -0.5]
    """
    return GradientReversal.apply(x, coeff)


def lambda_schedule(p: float, gamma: float = 10.0) -> float:
    """DANN's GRL factor `2 / (1 + exp(-gamma p)) - 1`: 0 at the start, close to 1 at the end (p in [0, 1])."""
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


def lr_schedule(p: float, lr0: float = 0.01, alpha: float = 10.0, beta: float = 0.75) -> float:
    """DANN's learning-rate annealing `lr0 / (1 + alpha p) ** beta` (p in [0, 1])."""
    return lr0 / (1.0 + alpha * p) ** beta
