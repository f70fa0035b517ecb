"""Images for fine-tuning: decoded once into memory, then cropped (and augmented) per epoch.

Decoding a JPEG costs more than cropping a tensor, so each image is decoded and resized once (short
side to size * 256/224, or squashed to size x size with `--crop full`) in DataLoader workers and kept
as uint8; every epoch only crops, flips, rotates... the kept tensors (torchvision transforms v2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from visionlab.engine import progress
from visionlab.transfer.targets import Transformed

RESIZE_RATIO = 256 / 224  # the ImageNet evaluation protocol: resize to 256, crop 224


@dataclass
class Decoded:
    """Decoded uint8 images (C, H, W), each possibly of its own width, with labels."""

    images: list[torch.Tensor]
    labels: torch.Tensor
    skipped: int = 0

    def subset(self, index: list[int]) -> Decoded:
        return Decoded([self.images[i] for i in index], self.labels[index], 0)


def _keep(batch: list[Any]) -> list[Any]:
    return batch


def base_side(size: int) -> int:
    """The short side images are kept at: a margin around the `size` crop."""
    return round(size * RESIZE_RATIO)


def decode_all(dataset: Any, size: int, crop: str, workers: int, desc: str = "decode") -> Decoded:
    """Decode and resize every image once; unreadable ones are skipped and counted."""
    from torchvision.transforms import v2

    side = base_side(size)
    resize = v2.Resize(side, antialias=True) if crop == "center" else v2.Resize((side, side), antialias=True)
    loader = DataLoader(Transformed(dataset, resize), batch_size=64, num_workers=workers, collate_fn=_keep)
    images: list[torch.Tensor] = []
    labels: list[int] = []
    skipped = 0
    for batch in progress(loader, desc, total=len(loader)):
        for item in batch:
            if item is None:
                skipped += 1
                continue
            images.append(item[0])
            labels.append(item[1])
    if not images:
        from visionlab.errors import MissingDataError

        raise MissingDataError("no readable image in the dataset", "check the image files")
    return Decoded(images, torch.tensor(labels, dtype=torch.long), skipped)


def augmentation(size: int) -> list[Any]:
    """The practical's augmentation, training images only: random resized crop, horizontal flip,
    rotation up to 15 degrees, random perspective 0.2, colour jitter 0.2 (brightness, contrast, saturation)."""
    from torchvision.transforms import v2

    return [
        v2.RandomResizedCrop(size, antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomRotation(15),
        v2.RandomPerspective(distortion_scale=0.2),
        v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
    ]


def train_transform(size: int, crop: str, augment: bool, spec: Any = None) -> Any:
    """Kept uint8 image -> float (3, size, size) in [0, 1]: augmented, or the evaluation crop."""
    from torchvision.transforms import v2

    if not augment:
        return eval_transform(size, crop)
    return v2.Compose([v2.RGB(), *augmentation(size), v2.ToDtype(torch.float32, scale=True)])


def eval_transform(size: int, crop: str) -> Any:
    """Kept uint8 image -> float (3, size, size) in [0, 1]: the centre crop (or the whole squashed image)."""
    from torchvision.transforms import v2

    geometry = v2.CenterCrop(size) if crop == "center" else v2.Resize((size, size), antialias=True)
    return v2.Compose([v2.RGB(), geometry, v2.ToDtype(torch.float32, scale=True)])
