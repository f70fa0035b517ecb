"""Adversarial attacks in [0, 1] pixel space (the model normalizes inside), batched.

- `naive`: the practical's targeted ascent: step along the L2-normalized gradient of the target class
  score until the label flips (Szegedy et al. 2014, "Intriguing properties of neural networks").
- `fgsm`: one signed-gradient step of size eps (Goodfellow, Shlens & Szegedy 2015), via torchattacks.
- `pgd`: projected signed-gradient steps inside the L-inf ball of radius eps (Madry et al. 2018).
- `cw`: Carlini & Wagner (2017) L2 attack, via torchattacks.

`naive` and `pgd` share one loop that keeps only the images not yet fooled in the batch: each step
costs one forward/backward of the remaining images, and an image stops at the step that fools it.
A target of -1 means untargeted (success: the prediction leaves the label).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ATTACKS = ("naive", "fgsm", "pgd", "cw")
DEFAULT_STEPS = {"naive": 100, "fgsm": 1, "pgd": 20, "cw": 50}


@dataclass
class AttackResult:
    """Adversarial images and how many update steps each one took."""

    images: torch.Tensor  # (N, 3, H, W) in [0, 1]
    steps: torch.Tensor  # (N,) steps used


def success(logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per image: the target is predicted (targeted) or the label no longer is (target -1)."""
    pred = logits.argmax(dim=1)
    return torch.where(targets >= 0, pred == targets, pred != labels)


Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _early_stop_loop(
    model: nn.Module,
    images: torch.Tensor,
    start: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor,
    steps: int,
    step: Step,
    early_stop: bool = True,
) -> AttackResult:
    """Apply `step(x, x0, logits, labels, targets, keep)` to the images not yet fooled, until `steps`.

    `x` is the current batch of active images (requiring grad), `x0` their originals, `logits` the
    model's output on `x`, `keep` marks the active images still to update; `step` returns new images.
    """
    adv = start.detach().clone()
    used = torch.zeros(len(images), dtype=torch.long)
    active = torch.arange(len(images), device=images.device)
    for k in range(steps + 1):
        x = adv[active].clone().requires_grad_(True)
        logits = model(x)
        if early_stop:
            done = success(logits.detach(), labels[active], targets[active])
            used[active[done].cpu()] = k
            keep = ~done
        else:
            keep = torch.ones(len(active), dtype=torch.bool, device=images.device)
        if k == steps or not keep.any():
            used[active[keep].cpu()] = k
            break
        adv[active[keep]] = step(x, images[active], logits, labels[active], targets[active], keep)[keep].detach()
        active = active[keep]
    return AttackResult(adv, used)


def _objective(logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """A per-image loss to descend: cross-entropy to the target, or minus cross-entropy to the label."""
    targeted = targets >= 0
    ce_target = F.cross_entropy(logits, targets.clamp_min(0), reduction="none")
    ce_label = F.cross_entropy(logits, labels, reduction="none")
    return torch.where(targeted, ce_target, -ce_label)


def pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor,
    eps: float,
    alpha: float,
    steps: int,
    random_start: bool = True,
    early_stop: bool = True,
    generator: torch.Generator | None = None,
) -> AttackResult:
    """L-inf projected gradient descent (Madry et al. 2018), stopping each image once it is fooled.

    x <- clip_[0,1](clip_{x0 +- eps}(x - alpha * sign(grad loss))), loss = CE to the target (or -CE to the label).
    """
    start = images
    if random_start:
        noise = torch.rand(images.shape, generator=generator).to(images.device) * 2 - 1
        start = (images + eps * noise).clamp(0, 1)

    def step(
        x: torch.Tensor,
        x0: torch.Tensor,
        logits: torch.Tensor,
        lab: torch.Tensor,
        tgt: torch.Tensor,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        loss = _objective(logits, lab, tgt)[keep].sum()
        (grad,) = torch.autograd.grad(loss, x)
        moved = x.detach() - alpha * grad.sign()
        return torch.min(torch.max(moved, x0 - eps), x0 + eps).clamp(0, 1)

    return _early_stop_loop(model, images, start, labels, targets, steps, step, early_stop)


def naive(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, step_size: float, steps: int
) -> AttackResult:
    """The practical's fooling images: x <- clip_[0,1](x + step_size * g / ||g||_2), g = d score_target / dx.

    Untargeted (target -1): descend the label's score instead. Stops each image when it is fooled.
    """

    def step(
        x: torch.Tensor,
        x0: torch.Tensor,
        logits: torch.Tensor,
        lab: torch.Tensor,
        tgt: torch.Tensor,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        sign = torch.where(tgt >= 0, 1.0, -1.0).to(logits.dtype)
        cls = torch.where(tgt >= 0, tgt, lab)
        score = (sign * logits.gather(1, cls[:, None])[:, 0])[keep].sum()
        (grad,) = torch.autograd.grad(score, x)
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        return (x.detach() + step_size * grad / norm).clamp(0, 1)

    return _early_stop_loop(model, images, images, labels, targets, steps, step)


def _torchattacks(attack: object, images: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Run a torchattacks attack, targeted where targets >= 0 (a batch is all targeted or all not)."""
    if bool((targets >= 0).all()):
        attack.set_mode_targeted_by_label(quiet=True)
        return attack(images, targets)
    if bool((targets < 0).all()):
        return attack(images, labels)
    raise ValueError("mix of targeted and untargeted images in one batch")


def fgsm(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, eps: float
) -> AttackResult:
    """Fast gradient sign method (Goodfellow et al. 2015) through torchattacks: one step of size eps."""
    import torchattacks

    adv = _torchattacks(torchattacks.FGSM(model, eps=eps), images, labels, targets)
    return AttackResult(adv.detach(), torch.ones(len(images), dtype=torch.long))


def cw(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, c: float, lr: float, steps: int
) -> AttackResult:
    """Carlini & Wagner (2017) L2 attack through torchattacks (Adam on tanh-space images; keeps the
    smallest successful perturbation, the original image when none is found)."""
    import torchattacks

    adv = _torchattacks(torchattacks.CW(model, c=c, kappa=0, steps=steps, lr=lr), images, labels, targets)
    return AttackResult(adv.detach(), torch.full((len(images),), steps, dtype=torch.long))


def perturbation_norms(images: torch.Tensor, adv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: the L-inf and L2 norms of adv - images (pixel units in [0, 1])."""
    delta = (adv - images).flatten(1)
    return delta.abs().amax(dim=1), delta.norm(dim=1)
