"""Sanity checks of attribution maps.

- Cascading model-parameter randomization (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"):
  re-initialize the layers one by one from the top and measure how much the maps still resemble the
  trained model's (Spearman rank correlation). A map that explains the model must change.
- Deletion and insertion (Petsiuk, Das & Saenko 2018, "RISE"): remove the most important pixels first
  (to black) and watch the class probability fall, or add them first onto a blurred copy and watch it
  rise; the area under each curve, compared with a random map's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def cascade_groups(backbone: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """The backbone's layers from the top (logits) down, one group per named cut point.

    A cut's group holds the modules with parameters of their own registered after the previous cut's
    group and up to the last module at or under the cut's graph node; cuts without parameters
    (pooling) are left out.
    """
    leaves = [(n, m) for n, m in backbone.net.named_modules() if n]
    groups: list[tuple[str, list[nn.Module]]] = []
    start = 0
    for cut, node in backbone.spec.cuts.items():
        ends = [i for i, (n, _) in enumerate(leaves) if n == node or n.startswith(node + ".")]
        if not ends or ends[-1] < start:
            continue
        params = [m for _, m in leaves[start : ends[-1] + 1] if any(True for _ in m.parameters(recurse=False))]
        start = ends[-1] + 1
        if params:
            groups.append((cut, params))
    return groups[::-1]


@torch.no_grad()
def randomize_(modules: list[nn.Module]) -> None:
    """Give each module its default initialization (BatchNorm: unit scale, zero shift, fresh statistics)."""
    for m in modules:
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
        else:
            for p in m.parameters(recurse=False):
                nn.init.normal_(p, std=0.02)


def spearman(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Spearman rank correlation of each pair of maps (N, H, W); 0 where a map is constant."""
    from scipy.stats import spearmanr

    out = []
    for x, y in zip(a.flatten(1).numpy(), b.flatten(1).numpy()):
        rho = spearmanr(x, y)[0] if x.std() > 0 and y.std() > 0 else 0.0
        out.append(0.0 if np.isnan(rho) else float(rho))
    return np.array(out)


def cascade(backbone: nn.Module, maps_of: Callable[[nn.Module], torch.Tensor]) -> tuple[list[str], list[torch.Tensor]]:
    """Maps of a copy of `backbone` after randomizing each group in turn, from the top down.

    Args:
        backbone: the trained backbone (left untouched).
        maps_of: computes (N, H, W) maps of a given model (for the same images and targets).

    Returns:
        (the cut names in the order randomized, the maps after each step, where `maps_of` leaves them).
    """
    model = copy.deepcopy(backbone)
    names, maps = [], []
    for name, modules in cascade_groups(model):
        randomize_(modules)
        names.append(name)
        maps.append(maps_of(model))
    return names, maps


def _order_masks(maps: torch.Tensor, patch: int) -> Callable[[float], torch.Tensor]:
    """mask(f): (N, 1, H, W) True on the most important fraction f of the pixels (or of the patches)."""
    n, h, w = maps.shape
    cells = F.avg_pool2d(maps[:, None], patch, ceil_mode=True)[:, 0] if patch > 1 else maps
    ch, cw = cells.shape[-2:]
    order = cells.flatten(1).argsort(dim=1, descending=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(ch * cw, device=order.device).expand(n, -1))
    rank = rank.view(n, 1, ch, cw)

    def mask(fraction: float) -> torch.Tensor:
        first = rank < round(fraction * ch * cw)
        if patch > 1:
            first = first.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)[..., :h, :w]
        return first

    return mask


@torch.no_grad()
def deletion_insertion(
    model: nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets: torch.Tensor,
    steps: int,
    blur_sigma: float,
    patch: int = 1,
    deleted_to: str = "black",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Probability curves of the target class as pixels are deleted (to black) or inserted (onto a blur).

    With `patch` > 1, square patches ranked by their mean importance are removed instead of single
    pixels (the region perturbation of Samek et al. 2017): a random order then no longer wins by
    spraying isolated black pixels that no photo contains.

    Args:
        images: (N, 3, H, W) in [0, 1]; maps: (N, H, W), higher = more important; targets: (N,).
        steps: the curve has steps + 1 points, from 0 to every pixel changed.
        blur_sigma: the insertion start image is the photo blurred with this sigma.
        patch: side of the square regions removed together (1: single pixels, as Petsiuk et al.).
        deleted_to: what deleted pixels become: `black` (Petsiuk et al.) or `blur` (the blurred photo,
            which keeps the deleted image closer to the photos the model was trained on).

    Returns:
        (deletion curves, insertion curves), each (N, steps + 1), on the images' device.
    """
    from torchvision.transforms.v2.functional import gaussian_blur

    radius = max(1, int(round(3 * blur_sigma)))
    blurred = gaussian_blur(images, kernel_size=[2 * radius + 1] * 2, sigma=[blur_sigma, blur_sigma])
    mask = _order_masks(maps.to(images.device), patch)
    rows = torch.arange(len(images), device=images.device)
    targets = targets.to(images.device)
    removed = blurred if deleted_to == "blur" else torch.zeros_like(images)
    deletion, insertion = [], []
    for k in range(steps + 1):
        first = mask(k / steps)
        deleted = torch.where(first, removed, images)
        inserted = torch.where(first, images, blurred)
        probs = model(torch.cat([deleted, inserted])).softmax(dim=1)
        deletion.append(probs[: len(images)][rows, targets])
        insertion.append(probs[len(images) :][rows, targets])
    return torch.stack(deletion, dim=1), torch.stack(insertion, dim=1)


def auc(curves: torch.Tensor) -> torch.Tensor:
    """Area under each curve on [0, 1] (trapezoid rule, equal steps)."""
    k = curves.shape[1] - 1
    return (curves.sum(dim=1) - (curves[:, 0] + curves[:, -1]) / 2) / k
