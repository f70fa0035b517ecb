"""Datasets as the experiments see them: labelled images, in memory or on disk.

Items are `(image, label)` with `image` a uint8 tensor (C, H, W). Small-image sets (MNIST, MNIST-M,
CIFAR-10) are `TensorImages`: decoded once, kept as one tensor, batched without per-sample work.
Folder sets are `FileImages`: decoded on demand (in DataLoader workers); an unreadable file gives
None, which `collate_skip` drops and counts, so one bad JPEG never stops an epoch.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from visionlab.errors import MissingDataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def default_root(root: Path | str | None = None) -> Path:
    """The data root: the argument, else $VISIONLAB_DATA, else ~/.cache/visionlab."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("VISIONLAB_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "visionlab"


def cache_root() -> Path:
    """Where visionlab keeps what it computes and can compute again (feature caches, evaluation classifiers).

    $VISIONLAB_CACHE, else ~/.cache/visionlab/cache: never inside a user's data root, which is theirs and
    may be shared, read-only or under version control.
    """
    env = os.environ.get("VISIONLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "visionlab" / "cache"


class TensorImages(Dataset):
    """Images held as one uint8 tensor (N, C, H, W) with integer labels (N,)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"expected uint8 (N, C, H, W) images, got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(labels):
            raise ValueError("images and labels differ in length")
        self.images = images
        self.labels = labels.long()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])

    def subset(self, index: Sequence[int] | torch.Tensor) -> TensorImages:
        index = torch.as_tensor(index, dtype=torch.long)
        return TensorImages(self.images[index], self.labels[index])


class FileImages(Dataset):
    """Image files with labels, decoded on demand to uint8 (C, H, W).

    Args:
        paths: image files.
        labels: one integer label per file.
        mode: PIL mode to convert to: `RGB` (3 channels) or `L` (1 channel).
        transform: applied to the decoded uint8 tensor (resizing, augmentation...).
    """

    def __init__(
        self,
        paths: Sequence[Path],
        labels: Sequence[int],
        mode: str = "RGB",
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.labels = torch.as_tensor(list(labels), dtype=torch.long)
        self.mode = mode
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[Any, int] | None:
        image = read_image(self.paths[i], self.mode, strict=False)
        if image is None:
            return None
        return (self.transform(image) if self.transform else image), int(self.labels[i])

    def subset(self, index: Sequence[int] | torch.Tensor) -> FileImages:
        index = [int(i) for i in index]
        return FileImages([self.paths[i] for i in index], self.labels[index].tolist(), self.mode, self.transform)


def read_image(path: Path, mode: str = "RGB", strict: bool = True) -> torch.Tensor | None:
    """Decode an image file to a uint8 tensor (C, H, W) in `mode`.

    Raises:
        MissingDataError: when `strict` and the file is missing or not a readable image; otherwise
            a warning naming the file, and None.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            arr = np.asarray(_to_8bit(img).convert(mode))
    except Image.DecompressionBombError:
        what = f"image {path} is too large to decode safely (over {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels)"
        if strict:
            raise MissingDataError(what, "resize it, or leave it out") from None
        warnings.warn(f"skipping {what}", stacklevel=2)
        return None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
        if strict:
            raise MissingDataError(f"cannot read image {path}: {err}", "pass a readable image file") from None
        warnings.warn(f"skipping unreadable image {path}: {err}", stacklevel=2)
        return None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def _to_8bit(img: Any) -> Any:
    """A 16-bit grey image scaled to 8 bits (value / 257: 65535 -> 255), not clipped at 255 as PIL's convert does."""
    from PIL import Image

    if img.mode not in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        return img
    values = np.asarray(img).astype(np.float64)
    if img.mode.startswith("I;16") or values.max(initial=0) > 255:
        values = values / 257
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def collate_skip(batch: list[Any]) -> tuple[torch.Tensor, torch.Tensor, int] | None:
    """Stack (image, label) items, dropping None ones. Returns (images, labels, skipped count)."""
    kept = [b for b in batch if b is not None]
    if not kept:
        return None
    images = torch.stack([b[0] for b in kept])
    labels = torch.as_tensor([b[1] for b in kept], dtype=torch.long)
    return images, labels, len(batch) - len(kept)


@dataclass
class ImageData:
    """A labelled dataset as an experiment gets it.

    Attributes:
        name: catalog name (`mnist`, `scene15`...).
        description: the data actually used, in words, for logs and config.json.
        classes: class names, index -> name.
        train: the training split.
        test: the test split (None when the dataset has none).
        notes: facts to record, e.g. how many unreadable files were skipped.
    """

    name: str
    description: str
    classes: list[str]
    train: Dataset
    test: Dataset | None
    notes: dict[str, Any] = field(default_factory=dict)

    def require_classes(self, n: int = 2) -> None:
        """Refuse (exit 3) a dataset with fewer than `n` classes: nothing to classify."""
        if len(self.classes) < n:
            raise MissingDataError(
                f"{self.description} has {len(self.classes)} class(es), need at least {n}",
                "give a folder with one sub-folder per class",
            )


def scan_class_folders(folder: Path) -> tuple[list[Path], list[int], list[str], int]:
    """Find images in `folder/<class>/...`. Returns (paths, labels, class names, unreadable count).

    A file whose header PIL cannot read is left out and counted (with one warning for all of them).
    """
    from PIL import Image

    if not folder.is_dir():
        raise MissingDataError(f"no folder {folder}", "point --data-root at a folder with one sub-folder per class")
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    paths: list[Path] = []
    labels: list[int] = []
    bad: list[Path] = []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).rglob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
                continue
            try:
                with Image.open(path) as img:
                    img.size  # noqa: B018 - reads the header
            except Exception:  # noqa: BLE001 - any unreadable file is skipped and counted
                bad.append(path)
                continue
            paths.append(path)
            labels.append(label)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image(s) under {folder}, e.g. {bad[0].name}", stacklevel=2)
    if not paths:
        raise MissingDataError(
            f"no images found under {folder}", "expected one sub-folder per class holding .jpg/.png files"
        )
    used = sorted(set(labels))
    if len(used) != len(classes):  # drop empty class folders, renumber
        remap = {old: new for new, old in enumerate(used)}
        classes = [classes[i] for i in used]
        labels = [remap[x] for x in labels]
    return paths, labels, classes, len(bad)


def stratified_split(labels: Sequence[int], per_class: int | float, seed: int) -> tuple[list[int], list[int]]:
    """Split indices per class: `per_class` items (or that fraction) for training, the rest for test."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    train: list[int] = []
    test: list[int] = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(per_class * len(idx))) if isinstance(per_class, float) else min(per_class, len(idx) - 1)
        train += idx[:k].tolist()
        test += idx[k:].tolist()
    return sorted(train), sorted(test)
