"""One GAN training step: D on a real and a generated batch, then G; tensors in, tensors out.

Each step updates D with binary cross-entropy on logits, then G with either the non-saturating loss
-log D(G(z)) or the original minimax log(1 - D(G(z))) (Goodfellow 2014, whose gradient vanishes when D
rejects the samples). The conditional GAN's D is matching-aware by default (Reed et al. 2016): real images
with a wrong label also count as fake; its G gets the mode-seeking term of MSGAN (Mao et al. 2019) so that
it does not ignore its noise (an option of the DCGAN too, off there by default). Options: one-sided label
smoothing of D's real targets (Salimans et al. 2016), PacGAN's packing (Lin et al. 2018: D judges `pack`
images at once, stacked along channels), InfoGAN's categorical code (Chen et al. 2016: D's Q head and G
both lower the cross-entropy of Q's guess of the code G was given) and feature matching for G (Salimans et
al. 2016); the DCGAN can also train on the relativistic average losses (Jolicoeur-Martineau 2018) and
penalize D's gradient on real images (R1, Mescheder et al. 2018). Every tensor a step creates lives on the
device of its batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from visionlab.generate.nets import latent_code

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
    real_logit: torch.Tensor,
    fake_logit: torch.Tensor,
    wrong_logit: torch.Tensor | None = None,
    mismatch: float = 0.0,
    real_label: float = 1.0,
) -> torch.Tensor:
    """D's binary cross-entropy: real images are real (target `real_label`), the rest fake (target 0).

    `real_label` < 1 is one-sided label smoothing (Salimans et al. 2016, "Improved Techniques for Training
    GANs"): with target t the real term is softplus(-l) + (1 - t) l, so D stops gaining once D(x) reaches t
    instead of pushing real logits to infinity; the fake targets stay 0.

    With `wrong_logit` (D on real images paired with a wrong label) this is the matching-aware loss of
    GAN-CLS (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis"):
    -log D(x, y) - (1 - w) log(1 - D(G(z), y)) - w log(1 - D(x, y')), w = `mismatch`; w = 0.5 is
    Reed's average of the two negatives, w = 0 the plain conditional GAN. A D that ignores the label
    cannot reject (x, y'), so it must learn the label, and G then has to follow it.
    """
    loss = F.binary_cross_entropy_with_logits(real_logit, torch.full_like(real_logit, real_label))
    fake = F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
    if wrong_logit is None or mismatch == 0:
        return loss + fake
    wrong = F.binary_cross_entropy_with_logits(wrong_logit, torch.zeros_like(wrong_logit))
    return loss + (1 - mismatch) * fake + mismatch * wrong


def relativistic_losses(
    real: torch.Tensor, fake: torch.Tensor, real_label: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The relativistic average GAN's pair (RaSGAN, Jolicoeur-Martineau 2018, "The relativistic discriminator"):
    (D's loss, G's loss) from D's logits on a real and a generated batch.

    D asks how much more real a real image looks than the average generated one, and the reverse:
    D: BCE(real - mean(fake), t) + BCE(fake - mean(real), 0), t = `real_label`;
    G: BCE(fake - mean(real), 1) + BCE(real - mean(fake), 0), so G also gets a gradient through the real
    images' term (pass them detached for G's loss).
    """
    r, f = real - fake.mean(), fake - real.mean()
    loss_d = F.binary_cross_entropy_with_logits(r, torch.full_like(r, real_label))
    loss_d = loss_d + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
    loss_g = F.binary_cross_entropy_with_logits(f, torch.ones_like(f))
    return loss_d, loss_g + F.binary_cross_entropy_with_logits(r, torch.zeros_like(r))


def r1_penalty(real_logit: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?"): the mean over the
    real images of |d D(x) / d x|^2, D's logits `real_logit` computed from `real` (which requires grad). The
    gradient is kept in the graph (create_graph), so D's loss can descend on it: D is pushed to be flat on the
    data, which keeps it from growing an ever steeper wall that G cannot follow."""
    (grad,) = torch.autograd.grad(real_logit.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(dim=1).mean()


def packed(x: torch.Tensor, pack: int) -> torch.Tensor:
    """PacGAN's input (Lin et al. 2018): (B, C, H, W) -> (B / pack, pack * C, H, W), consecutive images stacked
    along channels, so that D scores `pack` images jointly and sees a collapsed G's lack of variety."""
    if pack == 1:
        return x
    return x.reshape(len(x) // pack, pack * x.shape[1], *x.shape[2:])


def wrong_labels(labels: torch.Tensor, k: int) -> torch.Tensor:
    """A uniformly random label different from each given one: (y + U{1..k-1}) mod k."""
    return (labels + torch.randint(1, k, labels.shape, device=labels.device)) % k


def feature_matching_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Feature matching (Salimans et al. 2016, "Improved Techniques for Training GANs"): the squared distance
    between the batch means of D's features on real and on generated images, here averaged over the features
    (B, ...) -> scalar, so that its weight does not grow with D's width. G matches the statistics of the whole
    batch instead of fooling D image by image, which works against collapsing onto what D currently accepts."""
    return (real.flatten(1).mean(dim=0) - fake.flatten(1).mean(dim=0)).pow(2).mean()


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
    """What a step needs of the config: noise size, G's loss, classes (0: unconditional), the matching-aware
    weight (the CGAN's), the mode-seeking weight (either GAN), D's target for real images, PacGAN's packing
    (the DCGAN's; 1: none), the values of InfoGAN's code (the DCGAN's; 0: none) with its weight (lambda,
    1 for a categorical code in Chen et al. 2016), the weight of feature matching (the DCGAN's; 0: off) and
    whether the DCGAN trains with the relativistic average losses (in place of `g_loss`), and R1's gamma (the
    DCGAN's; 0: off)."""

    nz: int
    g_loss: str
    classes: int = 0
    mismatch: float = 0.0
    mode_seeking: float = 0.0
    real_label: float = 1.0
    pack: int = 1
    codes: int = 0
    info: float = 1.0
    feature_matching: float = 0.0
    relativistic: bool = False
    r1: float = 0.0


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
    seek = settings.mode_seeking
    pack = 1 if k else settings.pack
    codes = 0 if k else settings.codes
    match = 0.0 if k else settings.feature_matching
    relativistic = settings.relativistic and not k
    r1 = 0.0 if k else settings.r1
    parts = bool(codes or match)  # the DCGAN's D also returns its features and Q's code logits

    def judge(images: torch.Tensor, cond: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, Any, Any]:
        """D on generated images: (logits, features, Q's code logits), the last two None unless needed."""
        if parts:
            return d(packed(images, pack), parts=True)
        return d(packed(images, pack), *cond), None, None

    def step(batch: tuple[torch.Tensor, ...], progress: float) -> dict[str, torch.Tensor]:
        x, labels = batch
        cond = () if k == 0 else (F.one_hot(labels, k).float(),)
        z = torch.randn(len(x), settings.nz, device=x.device, generator=noise)
        code = latent_code(z, codes) if codes else None
        fake = g(z, *cond)
        real_in = x.detach().requires_grad_(True) if r1 else x
        real_logit = d(packed(real_in, pack), *cond)
        fake_logit, _, q_logit = judge(fake.detach(), cond)
        wrong_logit = d(x, F.one_hot(wrong_labels(labels, k), k).float()) if mismatch else None
        if relativistic:
            loss_d = relativistic_losses(real_logit, fake_logit, settings.real_label)[0]
        else:
            loss_d = discriminator_loss(real_logit, fake_logit, wrong_logit, mismatch, settings.real_label)
        if codes:
            loss_d = loss_d + settings.info * F.cross_entropy(q_logit, code)
        if r1:
            loss_d = loss_d + r1 / 2 * r1_penalty(real_logit, real_in)
        opt_d.zero_grad(set_to_none=True)
        backward(loss_d)
        opt_d.step()
        g_logit, fake_features, q_logit = judge(fake, cond)
        if match or relativistic:
            with torch.no_grad():  # the real images under the D that G now faces
                real_now, real_features, _ = d(packed(x, pack), parts=True)
        plain = not relativistic
        loss_g = generator_loss(g_logit, settings.g_loss) if plain else relativistic_losses(real_now, g_logit)[1]
        if codes:
            loss_g = loss_g + settings.info * F.cross_entropy(q_logit, code)
        if match:
            loss_g = loss_g + match * feature_matching_loss(real_features, fake_features)
        if seek:
            z2 = torch.randn(z.shape, device=z.device, generator=noise)
            loss_g = loss_g + seek * mode_seeking_loss(fake, g(z2, *cond), z, z2)
        opt_g.zero_grad(set_to_none=True)
        backward(loss_g)
        opt_g.step()
        real_out, fake_out = real_logit.detach(), fake_logit.detach()
        if relativistic:  # D's outputs are relative there: how much more real than the other batch's mean
            real_out, fake_out = real_out - fake_out.mean(), fake_out - real_out.mean()
        logs = {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "d_real": torch.sigmoid(real_out).mean(),
            "d_fake": torch.sigmoid(fake_out).mean(),
        }
        if codes:  # how often Q reads the code back from G's image (1 / codes: G ignores it)
            logs["code_acc"] = (q_logit.detach().argmax(dim=1) == code).float().mean()
        return logs

    return step
