"""One GAN training step: D on a real and a generated batch, then G; tensors in, tensors out.

Each step updates D with binary cross-entropy on logits, then G with either the non-saturating loss
-log D(G(z)) or the original minimax log(1 - D(G(z))) (Goodfellow 2014, whose gradient vanishes when D
rejects the samples). The conditional GAN's D is matching-aware by default (Reed et al. 2016): real images
with a wrong label also count as fake; its G gets the mode-seeking term of MSGAN (Mao et al. 2019) so that
it does not ignore its noise. Every tensor a step creates lives on the device of its batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

Step = Callable[[tuple[torch.Tensor, ...], float], dict[str, torch.Tensor]]


def generator_loss(logit: torch.Tensor, kind: str) -> torch.Tensor:
    """G's loss from D's logits on generated images.

    `non-saturating`: -log D(G(z)), gradient sigmoid(l) - 1 per logit, strong when D rejects the samples.
    `minimax`: log(1 - D(G(z))) (Goodfellow 2014), gradient -sigmoid(l), which vanishes as D(G(z)) -> 0.
    """
    if kind == "minimax":
        return -F.binary_cross_entropy_with_logits(logit, torch.zeros_like(logit))
    return F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))


def discriminator_loss(
    real_logit: torch.Tensor, fake_logit: torch.Tensor, wrong_logit: torch.Tensor | None = None, mismatch: float = 0.0
) -> torch.Tensor:
    """D's binary cross-entropy: real images are real, the rest fake.

    With `wrong_logit` (D on real images paired with a wrong label) this is the matching-aware loss of
    GAN-CLS (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis"):
    -log D(x, y) - (1 - w) log(1 - D(G(z), y)) - w log(1 - D(x, y')), w = `mismatch`; w = 0.5 is
    Reed's average of the two negatives, w = 0 the plain conditional GAN. A D that ignores the label
    cannot reject (x, y'), so it must learn the label, and G then has to follow it.
    """
    loss = F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
    fake = F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
    if wrong_logit is None or mismatch == 0:
        return loss + fake
    wrong = F.binary_cross_entropy_with_logits(wrong_logit, torch.zeros_like(wrong_logit))
    return loss + (1 - mismatch) * fake + mismatch * wrong


def wrong_labels(labels: torch.Tensor, k: int) -> torch.Tensor:
    """A uniformly random label different from each given one: (y + U{1..k-1}) mod k."""
    return (labels + torch.randint(1, k, labels.shape, device=labels.device)) % k


def mode_seeking_loss(
    a: torch.Tensor, b: torch.Tensor, za: torch.Tensor, zb: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """MSGAN's term for G (Mao et al. 2019, "Mode Seeking GANs"): 1 / (mean|a - b| / mean|za - zb| + eps).

    a = G(za, y), b = G(zb, y) share their labels; G lowers the term by making the images differ as much as
    their noise vectors do, which fights a conditional G that ignores its noise.
    """
    ratio = (a - b).abs().mean() / (za - zb).abs().mean()
    return 1.0 / (ratio + eps)


@dataclass(frozen=True)
class StepSettings:
    """What a step needs of the config: noise size, G's loss, classes (0: unconditional), the CGAN terms."""

    nz: int
    g_loss: str
    classes: int = 0
    mismatch: float = 0.0
    mode_seeking: float = 0.0


def make_step(
    g: nn.Module,
    d: nn.Module,
    opt_g: Any,
    opt_d: Any,
    settings: StepSettings,
    backward: Callable[[torch.Tensor], None] | None = None,
    noise: torch.Generator | None = None,
) -> Step:
    """The loop's step; `backward` is Fabric's (precision, DDP), `noise` a generator of z on the batch's device
    (None: the device's default stream)."""
    backward = backward or (lambda loss: loss.backward())
    k = settings.classes
    mismatch = settings.mismatch if k else 0.0
    seek = settings.mode_seeking if k else 0.0

    def step(batch: tuple[torch.Tensor, ...], progress: float) -> dict[str, torch.Tensor]:
        x, labels = batch
        cond = () if k == 0 else (F.one_hot(labels, k).float(),)
        z = torch.randn(len(x), settings.nz, device=x.device, generator=noise)
        fake = g(z, *cond)
        real_logit, fake_logit = d(x, *cond), d(fake.detach(), *cond)
        wrong_logit = d(x, F.one_hot(wrong_labels(labels, k), k).float()) if mismatch else None
        loss_d = discriminator_loss(real_logit, fake_logit, wrong_logit, mismatch)
        opt_d.zero_grad(set_to_none=True)
        backward(loss_d)
        opt_d.step()
        loss_g = generator_loss(d(fake, *cond), settings.g_loss)
        if seek:
            z2 = torch.randn(z.shape, device=z.device, generator=noise)
            loss_g = loss_g + seek * mode_seeking_loss(fake, g(z2, *cond), z, z2)
        opt_g.zero_grad(set_to_none=True)
        backward(loss_g)
        opt_g.step()
        return {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "d_real": torch.sigmoid(real_logit.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logit.detach()).mean(),
        }

    return step
