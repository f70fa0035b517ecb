"""Class-model visualization: the image a network scores highest for a class.

Simonyan, Vedaldi & Zisserman (2014), "Deep Inside Convolutional Networks", maximize the class score
S_c(I) - lambda * ||I||^2 by gradient ascent on the image; Yosinski et al. (2015), "Understanding
Neural Networks Through Deep Visualization", add the regularizers used here: random jitter before
each step and a Gaussian blur every few steps, with the image clamped to the valid pixel range.

The image is optimized in the backbone's normalized space (as in the original practical, so the
learning rate and L2 weight mean the same thing), with steps along the L2-normalized gradient.
Several images (classes, or sweep variants) are optimized together: one forward/backward per
iteration for the whole batch, each image with its own settings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from visionlab.engine import progress

SWEEPABLE = ("lr", "l2", "blur_every", "jitter", "iterations")


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


def _jitter(z: torch.Tensor, shifts: list[tuple[int, int]]) -> torch.Tensor:
    return torch.stack([torch.roll(img, s, dims=(1, 2)) if s != (0, 0) else img for img, s in zip(z, shifts)])


def _blur(z: torch.Tensor, sigma: float) -> torch.Tensor:
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
        targets: (N,) class per image.
        init: (N, 3, H, W) starting images in [0, 1].
        s: per-image settings.
        snapshot_at: iterations at which to keep a copy of the images (0: the start).
        generator: seeds the jitter.

    Returns:
        (final images in [0, 1], {iteration: images in [0, 1]}).
    """
    lo, hi = (0 - mean) / std, (1 - mean) / std
    z = ((init - mean) / std).detach().clone()
    rows = torch.arange(len(z), device=z.device)
    snaps: dict[int, torch.Tensor] = {}
    total = int(s.iterations.max())
    for t in progress(range(total + 1), "class-model", total=total + 1):
        if t in snapshot_at:
            snaps[t] = (z * std + mean).clamp(0, 1).cpu()
        if t == total:
            break
        active = (s.iterations > t).to(z.device)
        shifts = [tuple(int(v) for v in torch.randint(0, int(j) + 1, (2,), generator=generator)) for j in s.jitter]
        zj = _jitter(z, shifts).requires_grad_(True)
        score = model(zj * std + mean)[rows, targets] - s.l2.to(z.device) * zj.flatten(1).pow(2).sum(1)
        (grad,) = torch.autograd.grad(score[active].sum(), zj)
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        step = s.lr.to(z.device).view(-1, 1, 1, 1) * grad / norm
        moved = _jitter((zj + step).detach(), [(-a, -b) for a, b in shifts])
        moved = torch.max(torch.min(moved, hi), lo)
        every = s.blur_every.to(z.device)
        blur_now = active & (every > 0) & (t % every.clamp_min(1) == 0)
        if blur_now.any():
            moved = torch.where(blur_now.view(-1, 1, 1, 1), _blur(moved, s.blur_sigma), moved)
        z = torch.where(active.view(-1, 1, 1, 1), moved, z)
    return (z * std + mean).clamp(0, 1), snaps


def parse_sweep(text: str) -> tuple[str, list[float]]:
    """`lr=1,5,9` -> ("lr", [1.0, 5.0, 9.0]).

    Raises:
        ValueError: not KEY=V1,V2,... with KEY in `SWEEPABLE` and numbers as values.
    """
    key, sep, values = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or key not in SWEEPABLE:
        raise ValueError(f"--sweep must look like lr=1,5,9 with a key among {', '.join(SWEEPABLE)}")
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--sweep values must be numbers: {values!r}") from None
    if not numbers:
        raise ValueError("--sweep needs at least one value")
    if key in ("blur_every", "jitter", "iterations") and any(v < 0 or v != int(v) for v in numbers):
        raise ValueError(f"--sweep {key} values must be whole numbers >= 0")
    return key, numbers


# --- the command ------------------------------------------------------------------------------------


def _variants(cfg: Any) -> list[tuple[str, dict[str, float]]]:
    """(label, overrides) per sweep value; one unlabelled variant without a sweep."""
    if cfg.sweep is None:
        return [("", {})]
    key, values = parse_sweep(cfg.sweep)
    return [(f"{key}={v:g}", {key: v}) for v in values]


def _settings(cfg: Any, variants: list[tuple[str, dict[str, float]]], n_classes: int) -> Ascent:
    """Per-image settings: variant-major, class-minor."""
    rows = []
    for _, over in variants:
        rows += [{k: over.get(k, getattr(cfg, k)) for k in SWEEPABLE}] * n_classes

    def col(k: str, dt: torch.dtype) -> torch.Tensor:
        return torch.tensor([r[k] for r in rows], dtype=dt)

    return Ascent(
        col("lr", torch.float32),
        col("l2", torch.float32),
        col("blur_every", torch.long),
        col("jitter", torch.long),
        col("iterations", torch.long),
        cfg.blur_sigma,
    )


def _start(cfg: Any, backbone: Any, n: int, g: torch.Generator) -> tuple[torch.Tensor, str]:
    """Start images: noise in the normalized space (as the practical), or one photo repeated."""
    if cfg.init == "noise":
        z = torch.randn((n, 3, cfg.size, cfg.size), generator=g)
        return (z * backbone.std.cpu() + backbone.mean.cpu()).clamp(0, 1), "Gaussian noise in the normalized space"
    from visionlab.visualize.inputs import load_inputs

    inputs = load_inputs([cfg.init], backbone.preprocess(), cfg.size, limit=1)
    return inputs.images.repeat(n, 1, 1, 1), f"start image {inputs.names[0]}"


def stretch(images: torch.Tensor) -> torch.Tensor:
    """Each image rescaled so that its 0.5th..99.5th percentiles fill [0, 1] (the practical's display
    rescaled min..max; percentiles keep a few extreme pixels from greying out the rest)."""
    flat = images.flatten(1)
    lo = flat.quantile(0.005, dim=1).view(-1, 1, 1, 1)
    hi = flat.quantile(0.995, dim=1).view(-1, 1, 1, 1)
    return ((images - lo) / (hi - lo).clamp_min(1e-8)).clamp(0, 1)


def _figures(
    run: Any,
    labels: list[str],
    snaps: dict[int, torch.Tensor],
    final: torch.Tensor,
    p: torch.Tensor,
    n_classes: int,
    stretched: bool,
) -> None:
    """The progress grid (one row per image, one column per snapshot) and the final images."""
    from visionlab.report.figures import image_grid

    show = stretch if stretched else (lambda x: x)
    note = " (contrast-stretched)" if stretched else ""
    at = sorted(snaps)
    tiles, titles = [], []
    for i, label in enumerate(labels):
        for t in at:
            tiles.append(show(snaps[t][i : i + 1])[0])
            titles.append(f"{label}\nit {t}" if t == at[0] else f"it {t}")
    run.save_figure(
        image_grid(tiles, ncols=len(at), titles=titles, size=1.9, suptitle=f"class-model progress{note}"), "progress"
    )
    finals = [f"{lab}\np={q:.2f}" for lab, q in zip(labels, p)]
    run.save_figure(
        image_grid(
            list(show(final)), ncols=n_classes, titles=finals, size=2.4, suptitle=f"class-model visualization{note}"
        ),
        "final",
    )


def run(cfg: Any, run: Any) -> dict[str, float]:
    """Visualize each class (and sweep variant) in one batch; a progress grid, the final images, class/prob."""
    from visionlab.engine import select_device
    from visionlab.visualize.inputs import class_name, resolve_class
    from visionlab.visualize.nets import gradient_backbone, predict

    if cfg.quick:
        cfg = replace(cfg, iterations=min(cfg.iterations, 10), size=min(cfg.size, 64), snapshots=3)
    device = select_device(cfg.device)
    backbone = gradient_backbone(cfg.backbone, cfg.weights, device)
    classes = [resolve_class(c) for c in cfg.classes]
    variants = _variants(cfg)
    s = _settings(cfg, variants, len(classes))
    g = torch.Generator().manual_seed(cfg.seed)
    init, what = _start(cfg, backbone, len(s.lr), g)
    run.set_data(f"no dataset: {what}, {cfg.size}x{cfg.size}")
    targets = torch.tensor(classes * len(variants), device=device)
    total = int(s.iterations.max())
    at = sorted({round(i * total / (cfg.snapshots - 1)) for i in range(cfg.snapshots)})
    final, snaps = visualize_classes(backbone, backbone.mean, backbone.std, targets, init.to(device), s, at, g)
    probs = predict(backbone, final).cpu()
    p = probs.gather(1, targets.cpu()[:, None])[:, 0]
    labels = [f"{class_name(c)[:16]}{' ' + v if v else ''}" for v, _ in variants for c in classes]
    _figures(run, labels, snaps, final.cpu(), p, len(classes), cfg.stretch)
    run.save_npz(images=(final.cpu() * 255 + 0.5).to(torch.uint8).numpy(), targets=targets.cpu().numpy())
    metrics = {
        "class/prob": float(p.mean()),
        "class/prob_min": float(p.min()),
        "class/top1_rate": float((probs.argmax(1) == targets.cpu()).float().mean()),
    }
    k = len(classes)
    for j, c in enumerate(classes):
        metrics[f"class/prob_{class_name(c).replace(' ', '_')}"] = float(p[j::k].mean())
    for v, (label, _) in enumerate(variants):
        if label:
            metrics[f"sweep/prob_{label.replace('=', '_')}"] = float(p[v * k : (v + 1) * k].mean())
    return metrics
