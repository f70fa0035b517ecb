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
# Steps between two early-stop checks of `naive` and `pgd`: each check is one host sync (the GPU waits for
# the host), so an image fooled in between is frozen by a mask and leaves the batch at the next check.
CHECK_EVERY = 5


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
    An image is frozen at the step that fools it (a mask on the device); every `CHECK_EVERY` steps one
    host sync drops the frozen images from the batch and ends the loop once none is left.
    """
    device = images.device
    adv = start.detach().clone()
    used = torch.full((len(images),), steps, dtype=torch.long, device=device)
    active = torch.arange(len(images), device=device)  # the images in the batch
    live = torch.ones(len(images), dtype=torch.bool, device=device)  # per active image: not yet fooled
    for k in range(steps + 1):
        x = adv[active].clone().requires_grad_(True)
        logits = model(x)
        if early_stop:
            done = live & success(logits.detach(), labels[active], targets[active])
            used[active] = torch.where(done, k, used[active])
            live = live & ~done
        if k == steps:
            break
        new = step(x, images[active], logits, labels[active], targets[active], live).detach()
        adv[active] = torch.where(live.view(-1, 1, 1, 1), new, x.detach())
        if early_stop and (k + 1) % CHECK_EVERY == 0:
            left = live.nonzero()[:, 0]  # the one host sync of CHECK_EVERY steps
            if len(left) == 0:
                break
            active, live = active[left], live[left]
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
        noise = torch.rand(images.shape, generator=generator, device=images.device) * 2 - 1
        start = (images + eps * noise).clamp(0, 1)

    def step(
        x: torch.Tensor,
        x0: torch.Tensor,
        logits: torch.Tensor,
        lab: torch.Tensor,
        tgt: torch.Tensor,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        loss = torch.where(keep, _objective(logits, lab, tgt), 0.0).sum()
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
        score = torch.where(keep, sign * logits.gather(1, cls[:, None])[:, 0], 0.0).sum()
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
    return AttackResult(adv.detach(), torch.ones(len(images), dtype=torch.long, device=images.device))


def cw(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, c: float, lr: float, steps: int
) -> AttackResult:
    """Carlini & Wagner (2017) L2 attack through torchattacks (Adam on tanh-space images; keeps the
    smallest successful perturbation, the original image when none is found)."""
    import torchattacks

    adv = _torchattacks(torchattacks.CW(model, c=c, kappa=0, steps=steps, lr=lr), images, labels, targets)
    return AttackResult(adv.detach(), torch.full((len(images),), steps, dtype=torch.long, device=images.device))


def perturbation_norms(images: torch.Tensor, adv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: the L-inf and L2 norms of adv - images (pixel units in [0, 1])."""
    delta = (adv - images).flatten(1)
    return delta.abs().amax(dim=1), delta.norm(dim=1)
