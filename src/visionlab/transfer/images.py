"""Images for fine-tuning: decoded once into memory, then cropped (and augmented) per epoch.

Decoding a JPEG costs more than cropping a tensor, so each image is decoded and resized once (short
side to size * 256/224, or squashed to size x size with `--crop full`) in DataLoader workers and kept
as uint8; every epoch only crops, flips, rotates... the kept tensors (torchvision transforms v2), in
DataLoader workers again, into pinned memory when the model is on a CUDA GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from visionlab.data import FileImages, TensorImages
from visionlab.engine import RankBatchSampler, progress
from visionlab.errors import MissingDataError
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

    def __getstate__(self) -> dict[str, Any]:
        """Sent to another process as one flat tensor (one shared-memory block, not one per image); the block
        is kept on this object, since a tensor shared with a process being started must outlive its pickling."""
        if getattr(self, "_flat", None) is None:
            images = self.images or [torch.zeros(0, dtype=torch.uint8)]
            self._flat = torch.cat([im.flatten() for im in images])
        shapes = [tuple(im.shape) for im in self.images]
        return {"flat": self._flat, "shapes": shapes, "labels": self.labels, "skipped": self.skipped}

    def __setstate__(self, state: dict[str, Any]) -> None:
        sizes = [int(torch.Size(s).numel()) for s in state["shapes"]]
        parts = torch.split(state["flat"], sizes) if sizes else ()
        self.images = [p.view(s) for p, s in zip(parts, state["shapes"])]
        self.labels, self.skipped, self._flat = state["labels"], state["skipped"], state["flat"]


class DecodedImages(Dataset):
    """`(transform(image), label)` items of decoded images (the transform runs in the DataLoader's workers)."""

    def __init__(self, data: Decoded, transform: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.data, self.transform = data, transform

    def __len__(self) -> int:
        return len(self.data.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(self.data.images[i]), self.data.labels[i]


def loader(
    data: Decoded,
    transform: Callable[[torch.Tensor], torch.Tensor],
    sampler: RankBatchSampler,
    workers: int,
    pin: bool,
    seed: int,
) -> DataLoader:
    """Batches of `sampler` (this process's share of each global batch), transformed in `workers` processes
    (kept between epochs) and pinned for a fast copy to a GPU when `pin`; `seed` seeds the workers' random
    augmentation (and nothing of the main process's random stream)."""
    return DataLoader(
        DecodedImages(data, transform),
        batch_sampler=sampler,
        num_workers=workers,
        pin_memory=pin,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )


def _keep(batch: list[Any]) -> list[Any]:
    return batch


def base_side(size: int) -> int:
    """The short side images are kept at: a margin around the `size` crop."""
    return round(size * RESIZE_RATIO)


def decode_all(dataset: TensorImages | FileImages, size: int, crop: str, workers: int, desc: str = "decode") -> Decoded:
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
        raise MissingDataError("no readable image in the dataset", "check the image files")
    return Decoded(images, torch.tensor(labels, dtype=torch.long), skipped)


def augmentation(size: int) -> list[Callable[[torch.Tensor], torch.Tensor]]:
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


def train_transform(size: int, crop: str, augment: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """Kept uint8 image -> float (3, size, size) in [0, 1]: augmented, or the evaluation crop."""
    from torchvision.transforms import v2

    if not augment:
        return eval_transform(size, crop)
    return v2.Compose([v2.RGB(), *augmentation(size), v2.ToDtype(torch.float32, scale=True)])


def eval_transform(size: int, crop: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Kept uint8 image -> float (3, size, size) in [0, 1]: the centre crop (or the whole squashed image)."""
    from torchvision.transforms import v2

    geometry = v2.CenterCrop(size) if crop == "center" else v2.Resize((size, size), antialias=True)
    return v2.Compose([v2.RGB(), geometry, v2.ToDtype(torch.float32, scale=True)])
