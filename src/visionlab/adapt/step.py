"""One training step of every adapt method (DANN, Ganin et al., JMLR 2016, Algorithm 1), tensors in, tensors out.

Each step takes a batch of labelled source images and a batch of target images; the label loss uses the
source (DANN, no-GRL, source-only), the target (train-on-target upper bound) or both (pseudo-labelling,
Lee 2013, on the confident target predictions), and the domain loss both. The GRL factor follows
`2 / (1 + exp(-gamma p)) - 1` and the learning rate anneals as `lr0 / (1 + alpha p) ** beta`. Every tensor
the step makes (augmentation draws, domain labels) is made on the batch's device, and nothing is read
back to the host inside it: the loop reads the logs once per epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from visionlab.adapt.data import augment_source, normalize
from visionlab.adapt.grl import lambda_schedule, lr_schedule

# Which images each method's label loss sees.
LABELLED = {"dann": "source", "no-grl": "source", "source-only": "source", "target-only": "target", "pseudo": "both"}


@dataclass
class StepSpec:
    """What a step does.

    Attributes:
        method: dann | no-grl | source-only | target-only | pseudo.
        augment: source augmentation (colour | invert | affine | none).
        input_norm: image | global (see `data.normalize`).
        lr: the initial learning rate of the annealing schedule.
        gamma: the GRL schedule's gamma.
        grl_lambda: a fixed GRL factor instead of the schedule.
        fixed_p: hold the learning-rate schedule at this progress (pseudo-labelling: 1, the end of DANN).
        rank, world: this process and the number of data-parallel processes (augmentation draws).
    """

    method: str
    augment: str = "colour"
    input_norm: str = "image"
    lr: float = 0.01
    gamma: float = 10.0
    grl_lambda: float | None = None
    fixed_p: float | None = None
    rank: int = 0
    world: int = 1

    def __post_init__(self) -> None:
        if self.method not in LABELLED:
            raise ValueError(f"unknown method {self.method!r}")

    def schedules(self, p: float) -> tuple[float, float]:
        """(learning rate, GRL factor lambda) at training progress `p` in [0, 1)."""
        lr = lr_schedule(self.fixed_p if self.fixed_p is not None else p, self.lr)
        lam = self.grl_lambda if self.grl_lambda is not None else lambda_schedule(p, self.gamma)
        return lr, lam

    def coeff(self, lam: float) -> float:
        """The factor the GRL applies: lambda (reversed), -lambda (no GRL: not reversed) or 0 (head detached)."""
        return {"dann": lam, "pseudo": lam, "no-grl": -lam}.get(self.method, 0.0)


def step_losses(
    model: Any,
    xs: torch.Tensor,
    ys: torch.Tensor,
    xt: torch.Tensor,
    yt: torch.Tensor,
    spec: StepSpec,
    lam: float,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """The losses and accuracies of one batch: `loss` (to minimize) and `train/...` logs, all tensors.

    Args:
        model: a `DANN` (or its Fabric wrapper) on the batch's device.
        xs, ys: source images (uint8, N x 3 x 32 x 32) and labels.
        xt, yt: target images and labels (used only by target-only and pseudo-labelling).
        generator: the augmentation's generator on the batch's device (None: the device's default one).
    """
    src = augment_source(xs, spec.augment, generator, share=(spec.rank, spec.world))
    x = torch.cat([normalize(src, spec.input_norm), normalize(xt, spec.input_norm)])
    logits, dlogits, _ = model(x.contiguous(memory_format=torch.channels_last), spec.coeff(lam))
    n = len(xs)
    domain = torch.cat([torch.zeros(n, device=xs.device), torch.ones(len(xt), device=xt.device)])
    d_loss = F.binary_cross_entropy_with_logits(dlogits.float(), domain)
    part = LABELLED[spec.method]
    if part == "source":
        out, labels = logits[:n], ys
    elif part == "target":
        out, labels = logits[n:], yt
    else:
        out, labels = logits, torch.cat([ys, yt])
    c_loss = F.cross_entropy(out.float(), labels)
    return {
        "loss": c_loss + d_loss,
        "train/class_loss": c_loss.detach(),
        "train/acc": (out.argmax(1) == labels).float().mean(),
        "train/domain_loss": d_loss.detach(),
        "train/domain_acc": ((dlogits > 0).float() == domain).float().mean(),
    }


def make_step(
    model: Any,
    opt: torch.optim.Optimizer,
    spec: StepSpec,
    backward: Callable[[torch.Tensor], Any] | None = None,
    generator: torch.Generator | None = None,
) -> Callable[[tuple[torch.Tensor, ...], float], dict[str, Any]]:
    """The loop's `step(batch, p)`: batch `(xs, ys, xt, yt)` on the device -> logs (tensors and schedule values).

    `backward` is Fabric's (precision scaling, DDP) or, with None, `loss.backward()`.
    """

    def step(batch: tuple[torch.Tensor, ...], p: float) -> dict[str, Any]:
        xs, ys, xt, yt = batch
        lr, lam = spec.schedules(p)
        for group in opt.param_groups:
            group["lr"] = lr
        logs = step_losses(model, xs, ys, xt, yt, spec, lam, generator)
        loss = logs.pop("loss")
        opt.zero_grad(set_to_none=True)
        if backward is None:
            loss.backward()
        else:
            backward(loss)
        opt.step()
        return {**logs, "train/lambda": lam, "train/lr": lr}

    return step
