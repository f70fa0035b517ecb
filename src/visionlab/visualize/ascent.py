"""Gradient ascent on class scores, batched: the loop behind `visualize class-model`.

Simonyan, Vedaldi & Zisserman (2014), "Deep Inside Convolutional Networks", maximize the class score
S_c(I) - lambda * ||I||^2 by gradient ascent on the image; Yosinski et al. (2015), "Understanding
Neural Networks Through Deep Visualization", add the regularizers used here: random jitter before
each step and a Gaussian blur every few steps, with the image clamped to the valid pixel range.

The image is optimized in the backbone's normalized space (as in the original practical, so the
learning rate and L2 weight mean the same thing), with steps along the L2-normalized gradient.
Several images (classes, or sweep variants) are optimized together: one forward/backward per
iteration for the whole batch, each image with its own settings. Every tensor an iteration makes
(jitter shifts, masks, the blur kernel) is made on the images' device, and nothing is read back to
the host inside the loop: the settings that decide control flow are read once, before it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from visionlab.engine import progress


@dataclass
class Ascent:
    """Per-image settings of the ascent, each a tensor of length N (one value per image).

    Attributes:
        lr: L2 length of each step, in normalized-image units.
        l2: weight of the squared L2 norm of the normalized image.
        blur_every: blur every k iterations (0: never).
        jitter: largest random shift in pixels before each step (0: none).
        iterations: how many steps this image takes (the batch runs until the largest).
        blur_sigma: the Gaussian blur's standard deviation in pixels (one value for all).
    """

    lr: torch.Tensor
    l2: torch.Tensor
    blur_every: torch.Tensor
    jitter: torch.Tensor
    iterations: torch.Tensor
    blur_sigma: float = 0.5

    @classmethod
    def constant(
        cls, n: int, lr: float, l2: float, blur_every: int, jitter: int, iterations: int, blur_sigma: float = 0.5
    ) -> Ascent:
        """The same settings for `n` images."""

        def full(v: float, dt: torch.dtype) -> torch.Tensor:
            return torch.full((n,), v, dtype=dt)

        return cls(
            full(lr, torch.float32),
            full(l2, torch.float32),
            full(blur_every, torch.long),
            full(jitter, torch.long),
            full(iterations, torch.long),
            blur_sigma,
        )

    def to(self, device: torch.device) -> Ascent:
        """These settings with every tensor on `device`."""
        return replace(
            self,
            lr=self.lr.to(device),
            l2=self.l2.to(device),
            blur_every=self.blur_every.to(device),
            jitter=self.jitter.to(device),
            iterations=self.iterations.to(device),
        )


def draw_shifts(jitter: list[int], device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
    """(N, 2) random shifts on `device`, image i's in [0, jitter[i]] (one draw per image, in order)."""
    return torch.stack([torch.randint(0, j + 1, (2,), generator=generator, device=device) for j in jitter])


def roll(z: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Each image (N, C, H, W) rolled by its own (rows, columns) shift (N, 2), as `torch.roll` (a gather:
    the shifts stay on the device)."""
    n, c, h, w = z.shape
    rows = (torch.arange(h, device=z.device) - shifts[:, :1]) % h  # (N, H): source row of each row
    cols = (torch.arange(w, device=z.device) - shifts[:, 1:]) % w  # (N, W)
    z = z.gather(2, rows[:, None, :, None].expand(n, c, h, w))
    return z.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def blur(z: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of radius 4 sigma (torchvision makes its kernel on the images' device)."""
    from torchvision.transforms.v2.functional import gaussian_blur

    radius = max(1, int(round(4 * sigma)))
    return gaussian_blur(z, kernel_size=[2 * radius + 1] * 2, sigma=[sigma, sigma])


def visualize_classes(
    model: nn.Module,
    mean: torch.Tensor,
    std: torch.Tensor,
    targets: torch.Tensor,
    init: torch.Tensor,
    s: Ascent,
    snapshot_at: list[int],
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Gradient ascent on each image's class score, all images in one batch.

    Args:
        model: [0, 1] images (N, 3, H, W) -> logits; its parameters need no gradient.
        mean, std: the model's input normalization, (1, 3, 1, 1): x = z * std + mean.
        targets: (N,) class per image, on the images' device.
        init: (N, 3, H, W) starting images in [0, 1].
        s: per-image settings (read once on the host for the loop's control flow).
        snapshot_at: iterations at which to keep a copy of the images (0: the start).
        generator: seeds the jitter; a generator of the images' device.

    Returns:
        (final images in [0, 1], {iteration: images in [0, 1]}), on the images' device.
    """
    device = init.device
    iterations, every, jitter = s.iterations.tolist(), s.blur_every.tolist(), s.jitter.tolist()
    d = s.to(device)
    lo, hi = (0 - mean) / std, (1 - mean) / std
    z = ((init - mean) / std).detach().clone()
    rows = torch.arange(len(z), device=device)
    snaps: dict[int, torch.Tensor] = {}
    total = max(iterations)
    for t in progress(range(total + 1), "class-model", total=total + 1):
        if t in snapshot_at:
            snaps[t] = (z * std + mean).clamp(0, 1)
        if t == total:
            break
        active = d.iterations > t
        shifts = draw_shifts(jitter, device, generator)
        zj = roll(z, shifts).requires_grad_(True)
        score = model(zj * std + mean)[rows, targets] - d.l2 * zj.flatten(1).pow(2).sum(1)
        (grad,) = torch.autograd.grad(torch.where(active, score, 0.0).sum(), zj)
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        step = d.lr.view(-1, 1, 1, 1) * grad / norm
        moved = roll((zj + step).detach(), -shifts)
        moved = torch.max(torch.min(moved, hi), lo)
        if any(n > t and e > 0 and t % e == 0 for n, e in zip(iterations, every)):  # host settings: no sync
            blur_now = active & (d.blur_every > 0) & (t % d.blur_every.clamp_min(1) == 0)
            moved = torch.where(blur_now.view(-1, 1, 1, 1), blur(moved, s.blur_sigma), moved)
        z = torch.where(active.view(-1, 1, 1, 1), moved, z)
    return (z * std + mean).clamp(0, 1), snaps
