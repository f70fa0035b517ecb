"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28x28 grey Zalando article images, 10 classes, 60,000 + 10,000.

torchvision's layout under the data root (`FashionMNIST/raw/*-ubyte`, decompressed), read through the
MNIST loader's IDX helpers. There is no bundled fallback: a missing set is an error that names the folder
looked in and the fix.
"""

from __future__ import annotations

from pathlib import Path

from visionlab.data.base import ImageData
from visionlab.data.mnist import has_files, load_idx, prepare_idx, raw_folder
from visionlab.errors import MissingDataError

NAME = "fashion_mnist"
# torchvision's FashionMNIST.classes, index -> name (kept here so `--help` and figures need no torchvision import).
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _dataset() -> type:
    from torchvision.datasets import FashionMNIST

    return FashionMNIST


def find_fashion_mnist(root: Path | None) -> Path | None:
    """The `FashionMNIST/raw` folder under the data root when its four files are there."""
    return raw_folder(root, _dataset()) if has_files(root, _dataset()) else None


def load_fashion_mnist(root: Path | None = None, download: bool = False) -> ImageData:
    """Fashion-MNIST as uint8 tensors (N, 1, 28, 28) with its class names.

    Raises:
        MissingDataError: the four files are not under the data root (and `download` is off or fails).
    """
    if download and find_fashion_mnist(root) is None:
        prepare_fashion_mnist(root)
    if find_fashion_mnist(root) is None:
        raise MissingDataError(
            f"fashion_mnist not found: no FashionMNIST/raw/*-ubyte files in {raw_folder(root, _dataset())}",
            "run `visionlab data prepare fashion_mnist` (online, or offline with the .gz files in that folder), "
            "or pass --data-root DIR holding FashionMNIST/raw/",
        )
    return load_idx(root, _dataset(), NAME, list(CLASSES))


def prepare_fashion_mnist(root: Path | None = None) -> Path:
    """Download the four Fashion-MNIST files (torchvision's mirror, MD5-checked) into <root>/FashionMNIST/raw."""
    return prepare_idx(root, _dataset(), NAME)
