"""Test-time views of an image for frozen features: the centre crop, five crops, and their mirror images.

A view is `(crop, flip)`. `center` resizes the short side and cuts the centre square; `full` squashes the
whole image; `five` takes the four corner squares and the centre square of the same resized image, and
an image's feature is the mean of its five crops' pooled features (the test-time crops of Krizhevsky et al.
2012, averaged over features as Razavian et al. 2014 do). With `flip` the mirror images are run too and
averaged in (so `five` with flip is the ten-crop mean). No label is involved in any view.

One pass yields every cheaper view as well: a `five` pass holds the `center` crop (the fifth of the five),
and a flip pass holds the unflipped features. `pooled_views` returns them all, so a caller that weighs
several views against each other runs the network once.
"""

from __future__ import annotations

import torch
from torch import nn

View = tuple[str, bool]  # (crop, flip)
CENTER_OF_FIVE = 4  # torchvision's five_crop order: top-left, top-right, bottom-left, bottom-right, centre


def pool(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) maps -> (N, C) by global average pooling; (N, D) stays; anything else is flattened."""
    if x.ndim == 4:
        return x.mean(dim=(2, 3))
    return x.flatten(1)


class FiveCrops:
    """uint8 (C, H, W) image -> (5, C, size, size): the four corner crops, then the centre crop."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        from torchvision.transforms.v2 import functional as F

        return torch.stack(F.five_crop(image, [self.size, self.size]))


def views_of_pass(crop: str, flip: bool) -> list[View]:
    """Every view one pass of (crop, flip) yields: itself first, then the cheaper ones it holds."""
    crops = [crop, "center"] if crop == "five" else [crop]
    flips = [True, False] if flip else [False]
    return [(c, f) for f in flips for c in crops]


def pooled_views(extractor: nn.Module, x: torch.Tensor, crop: str, flip: bool) -> dict[View, dict[str, torch.Tensor]]:
    """One batch -> {view: {cut: pooled float features (N, D)}} for every view in `views_of_pass(crop, flip)`,
    on the batch's device. `x` is (N, 3, H, W), or (N, 5, 3, H, W) for `five` (`FiveCrops` per image)."""
    n = x.shape[0]
    crops = x.flatten(0, 1) if x.ndim == 5 else x
    per_image = crops.shape[0] // n
    crops = crops.contiguous(memory_format=torch.channels_last)

    def run(batch: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
        """Pooled features per crop (N, crops, D) -> {crop view: {cut: (N, D)}}."""
        got = {c: pool(v).float().view(n, per_image, -1) for c, v in extractor(batch).items()}
        if crop == "five":
            return {
                "five": {c: v.mean(1) for c, v in got.items()},
                "center": {c: v[:, CENTER_OF_FIVE] for c, v in got.items()},
            }
        return {crop: {c: v[:, 0] for c, v in got.items()}}

    plain = run(crops)
    out: dict[View, dict[str, torch.Tensor]] = {}
    if flip:
        mirrored = run(crops.flip(-1))
        for name, feats in plain.items():
            out[(name, True)] = {c: (v + mirrored[name][c]) / 2 for c, v in feats.items()}
    out.update({(name, False): feats for name, feats in plain.items()})
    return out
