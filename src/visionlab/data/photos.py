"""Colour photos that ship inside pip packages, with their ImageNet classes: the offline test images.

Name an image `bundled:NAME` (or `bundled:all`) wherever a command takes image files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from visionlab.data.base import read_image
from visionlab.errors import UsageError


@dataclass(frozen=True)
class Photo:
    """A bundled photo: its name, where it ships, and the ImageNet classes that describe it."""

    name: str
    source: str
    load: Callable[[], np.ndarray]
    classes: tuple[int, ...]  # acceptable ImageNet indices, the main one first


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image

    return load


def _sklearn(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_images

        return load_sample_images().images[index]

    return load


PHOTOS: dict[str, Photo] = {
    p.name: p
    for p in [
        Photo("cat", "scikit-image chelsea", _skimage("chelsea"), (281, 282, 285)),  # tabby, tiger cat, Egyptian cat
        Photo("coffee", "scikit-image coffee", _skimage("coffee"), (967,)),  # espresso
        Photo("rocket", "scikit-image rocket", _skimage("rocket"), (657, 812)),  # missile, space shuttle
        Photo(
            "motorcycle", "scikit-image stereo_motorcycle", _skimage("stereo_motorcycle"), (670, 665)
        ),  # motor scooter, moped
        Photo("palace", "scikit-learn china.jpg", _sklearn(0), (698,)),  # palace
        Photo("daisy", "scikit-learn flower.jpg", _sklearn(1), (985,)),  # daisy
    ]
}


def photo_tensor(name: str) -> torch.Tensor:
    """A bundled photo as uint8 (3, H, W)."""
    return torch.from_numpy(np.array(PHOTOS[name].load(), copy=True)).permute(2, 0, 1).contiguous()


def expand_images(args: list[str]) -> list[str]:
    """Expand `bundled:all` into every bundled photo; other arguments are kept."""
    out: list[str] = []
    for arg in args:
        out += [f"bundled:{n}" for n in PHOTOS] if arg == "bundled:all" else [arg]
    return out


def load_image_arg(arg: str) -> torch.Tensor:
    """An image argument -> uint8 (3, H, W): a file path, or `bundled:NAME`.

    Raises:
        UsageError: unknown bundled name. MissingDataError: unreadable or missing file.
    """
    if arg.startswith("bundled:"):
        name = arg.split(":", 1)[1]
        if name not in PHOTOS:
            raise UsageError(f"unknown bundled photo {name!r}", f"choose one of {', '.join(PHOTOS)} or all")
        return photo_tensor(name)
    return read_image(Path(arg), "RGB", strict=True)  # type: ignore[return-value]
