"""Training images for the GANs: any catalog dataset as one in-memory tensor of 32x32 images in [-1, 1].

Small tensor sets (MNIST, CIFAR-10) are resized in one batched call; file sets (CelebA, an image
folder) are decoded once, in DataLoader workers, each image centre-cropped to a square and resized,
so mixed sizes and grey+colour files end up alike. An all-grey folder keeps one channel.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

SIZE = 32


@dataclass(frozen=True)
class ClassifierSet:
    """A catalog set with its own evaluation classifier (sample FD/KID, label accuracy, class histograms).

    Attributes:
        title: the set in words (`MNIST`).
        items: what its images are called in notes (`digits`, `images`).
        unit: what the coverage metric counts, `samples/<unit>_covered` (`digits`, `classes`).
        cache_name: prefix of its cached classifier under $VISIONLAB_CACHE/generate.
    """

    title: str
    items: str
    unit: str
    cache_name: str


CLASSIFIER_SETS: dict[str, ClassifierSet] = {
    "mnist": ClassifierSet("MNIST", "digits", "digits", "digit"),
    "fashion_mnist": ClassifierSet("Fashion-MNIST", "images", "classes", "fashion_mnist"),
}


@dataclass
class GanData:
    """Images for a GAN and the held-out real images its samples are compared with.

    Attributes:
        train: float (N, C, 32, 32) in [-1, 1].
        labels: (N,) class or attribute indices.
        classes: class names (for CelebA: [not-<attribute>, <attribute>]).
        test: uint8 (M, C, 32, 32) held-out real images (the real-vs-real floor), or None.
        test_labels: (M,) labels of `test`.
        description: the data actually used, in words.
        classifier_set: the catalog set whose evaluation classifier measures the samples (one of
            CLASSIFIER_SETS), None when no classifier applies.
    """

    train: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    test: torch.Tensor | None
    test_labels: torch.Tensor | None
    description: str
    classifier_set: str | None

    @property
    def digits(self) -> bool:
        """Whether the images are MNIST digits."""
        return self.classifier_set == "mnist"

    @property
    def channels(self) -> int:
        return int(self.train.shape[1])

    def train_uint8(self) -> torch.Tensor:
        return to_uint8(self.train)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [-1, 1]."""
    return images.float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8 (same shape)."""
    return images.detach().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def resize_uint8(images: torch.Tensor, size: int = SIZE, chunk: int = 4096) -> torch.Tensor:
    """Batched antialiased resize of uint8 (N, C, H, W) square images to `size`."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    parts = []
    for i in range(0, len(images), chunk):
        x = images[i : i + chunk].float()
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        parts.append(x.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(parts)


def square_resize(image: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """One uint8 (C, H, W) image of any size: centre crop to a square, antialiased resize to `size`."""
    from torchvision.transforms.v2 import functional as TF

    side = min(image.shape[-2:])
    return TF.resize(TF.center_crop(image, [side, side]), [size, size], antialias=True)


class _Squared(Dataset):
    """Items of a file dataset as (uint8 (3, 32, 32) RGB, label); None for an unreadable file."""

    def __init__(self, dataset: Dataset, attribute: int | None) -> None:
        self.dataset = dataset
        self.attribute = attribute

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int] | None:
        item = self.dataset[i]
        if item is None:
            return None
        image, label = item
        if image.shape[0] == 1:
            image = image.expand(3, -1, -1)
        if torch.is_tensor(label) and label.ndim > 0:  # CelebA: 40 attributes
            label = int(label[self.attribute or 0])
        return square_resize(image[:3]), int(label)


def _decode_all(dataset: Dataset, attribute: int | None, workers: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode and resize every item once; unreadable files are dropped."""
    from torch.utils.data import DataLoader

    from visionlab.data import collate_skip
    from visionlab.engine import progress

    loader = DataLoader(_Squared(dataset, attribute), batch_size=256, num_workers=workers, collate_fn=collate_skip)
    images, labels = [], []
    for batch in progress(loader, "decode images", total=len(loader)):
        if batch is not None:
            images.append(batch[0])
            labels.append(batch[1])
    return torch.cat(images), torch.cat(labels)


def _subset(n: int, limit: int, seed: int) -> torch.Tensor:
    if limit <= 0 or limit >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:limit].sort().values


def _as_tensors(dataset: Any, attribute: int | None, limit: int, seed: int, workers: int) -> tuple[Any, Any]:
    from visionlab.data import TensorImages

    index = _subset(len(dataset), limit, seed)
    if isinstance(dataset, TensorImages):
        return resize_uint8(dataset.images[index]), dataset.labels[index]
    from torch.utils.data import Subset

    return _decode_all(Subset(dataset, index.tolist()), attribute, workers)


@functools.lru_cache(maxsize=2)
def _load(name: str, root: Path | None, download: bool, seed: int) -> Any:
    """The catalog dataset, kept for the process (the bundled MNIST parses a text file each time)."""
    from visionlab.data import load_dataset

    return load_dataset(name, root, download, seed)


def load_gan_data(
    name: str,
    root: Path | None,
    download: bool = False,
    seed: int = 0,
    limit: int = 0,
    attribute: int | None = None,
    workers: int = 2,
) -> GanData:
    """Load a catalog dataset for GAN training at 32x32 (missing data raises MissingDataError, exit 3)."""
    data = _load(name, root, download, seed)
    classes = list(data.classes)
    if name == "celeba":
        attr = classes[attribute or 0]
        classes = [f"not {attr}", attr]
    train, labels = _as_tensors(data.train, attribute, limit, seed, workers)
    test, test_labels = (None, None)
    if data.test is not None and len(data.test) > 0:  # type: ignore[arg-type]
        test, test_labels = _as_tensors(data.test, attribute, limit // 4 if limit else 0, seed, workers)
    grey = train.shape[1] == 3 and bool((train[:, :1] == train[:, 1:]).all())
    if grey:
        train = train[:, :1].contiguous()
        test = test[:, :1].contiguous() if test is not None else None
    used = f"{len(train)} of them" if limit else "all"
    desc = f"{data.description}; training images: {used}, resized to {SIZE}x{SIZE}"
    if grey and name != "mnist":
        desc += ", grey (one channel)"
    evaluated = name if name in CLASSIFIER_SETS else None
    return GanData(to_float(train), labels.long(), classes, test, test_labels, desc, classifier_set=evaluated)
