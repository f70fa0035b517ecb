"""An exponential moving average of the generator's weights, the network that samples are drawn from.

Averaging G's weights over the last few hundred steps smooths out the oscillation of GAN training, so the
averaged G gives cleaner and more faithful samples than the last iterate at no training cost (Yazici et al.
2019, "The Unusual Effectiveness of Averaging in GAN Training"; Karras et al. 2018, ProGAN). The decay warms
up as in TensorFlow's `ExponentialMovingAverage(num_updates=...)`: min(decay, (1 + t) / (10 + t)) at update t,
so that a short run is not dominated by its random initial weights. Batch-norm statistics (buffers) are copied
from G: the averaged G samples in eval mode with the running statistics of the trained one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def ema_decay(decay: float, updates: int) -> float:
    """The decay of update number `updates` (0-based): min(decay, (1 + t) / (10 + t))."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


class EmaGenerator(nn.Module):
    """A copy of G whose weights follow G's as an exponential moving average.

    `update(g)` after every optimizer step: w <- d w + (1 - d) w_G, with d = `ema_decay(decay, t)`; the
    arithmetic stays on the weights' device (no host sync). The update count travels with `state_dict()`
    so that a resumed run continues the same average.

    Example:
        >>> ema = EmaGenerator(g, decay=0.999)
        >>> ...; opt_g.step(); ema.update(g)
        >>> images = ema.model(z)
    """

    def __init__(self, g: nn.Module, decay: float) -> None:
        super().__init__()
        self.model = copy.deepcopy(g).requires_grad_(False).eval()
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, g: nn.Module) -> None:
        """One averaging step towards `g`'s current weights; `g`'s buffers are copied."""
        weight = 1.0 - ema_decay(self.decay, self.updates)
        ema_params, params = list(self.model.parameters()), [p.detach() for p in g.parameters()]
        torch._foreach_lerp_(ema_params, params, weight)
        for mine, theirs in zip(self.model.buffers(), g.buffers()):
            mine.copy_(theirs)
        self.updates += 1

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.model(*args)

    def get_extra_state(self) -> dict[str, Any]:
        return {"updates": self.updates, "decay": self.decay}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])


Step = Callable[[Any, float], dict[str, torch.Tensor]]


def averaging(step: Step, ema: EmaGenerator, g: nn.Module) -> Step:
    """`step` followed by one averaging update of `ema` towards `g` (the unwrapped generator)."""

    def run(batch: Any, progress: float) -> dict[str, torch.Tensor]:
        logs = step(batch, progress)
        ema.update(g)
        return logs

    return run
