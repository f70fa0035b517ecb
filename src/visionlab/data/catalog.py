"""The dataset catalog: name -> loader, status and preparation (`visionlab data list | prepare`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from visionlab.data import fashion_mnist, folders, mnist, mnist_m, tvsets
from visionlab.data.base import ImageData, default_root
from visionlab.errors import MissingDataError, UsageError


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset: how to load it, whether it is here, and how to get it."""

    name: str
    summary: str
    load: Callable[[Path | None, bool, int], ImageData]  # (root, download, seed) -> data
    status: Callable[[Path | None], str]


def _mnist_status(root: Path | None) -> str:
    if mnist.has_full(root):
        return "full set present"
    return "bundled 5,000-digit subset (offline fallback)"


def _found(find: Callable[[Path | None], Path | None]) -> Callable[[Path | None], str]:
    def status(root: Path | None) -> str:
        folder = find(root)
        return f"present ({folder})" if folder else "missing"

    return status


def _load_folder(root: Path | None, download: bool, seed: int) -> ImageData:
    if root is None:
        raise UsageError("--data folder needs --data-root DIR", "point it at a folder with one sub-folder per class")
    return folders.load_folder(Path(root), "folder", seed=seed)


DATASETS: dict[str, DatasetEntry] = {
    e.name: e
    for e in [
        DatasetEntry(
            "mnist", "handwritten digits, 28x28 grey, 10 classes", lambda r, d, s: mnist.load_mnist(r, d), _mnist_status
        ),
        DatasetEntry(
            "fashion_mnist",
            "Fashion-MNIST, Zalando articles, 28x28 grey, 10 classes (Xiao 2017)",
            lambda r, d, s: fashion_mnist.load_fashion_mnist(r, d),
            _found(fashion_mnist.find_fashion_mnist),
        ),
        DatasetEntry(
            "mnist_m",
            "MNIST digits over colour photo patches, 32x32 RGB (Ganin 2015)",
            lambda r, d, s: mnist_m.load_mnist_m(r),
            _found(mnist_m.find_mnist_m),
        ),
        DatasetEntry(
            "scene15",
            "15-Scene, 4,485 grey scene photos, 15 classes (Lazebnik 2006)",
            lambda r, d, s: folders.load_scene15(r, s),
            _found(folders.find_scene15),
        ),
        DatasetEntry(
            "cifar10",
            "CIFAR-10, 32x32 RGB, 10 classes",
            lambda r, d, s: tvsets.load_cifar10(r, d),
            lambda r: "present" if tvsets.has_cifar10(r) else "missing",
        ),
        DatasetEntry(
            "celeba",
            "CelebA aligned faces with 40 attributes",
            lambda r, d, s: tvsets.load_celeba(r, d),
            lambda r: "present" if (default_root(r) / "celeba" / "list_attr_celeba.txt").exists() else "missing",
        ),
        DatasetEntry(
            "folder",
            "any class-per-folder image tree (--data-root DIR)",
            _load_folder,
            lambda r: "give --data-root DIR",
        ),
    ]
}


def get_entry(name: str) -> DatasetEntry:
    if name not in DATASETS:
        raise UsageError(f"unknown dataset {name!r}", f"choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def load_dataset(name: str, root: Path | None = None, download: bool = False, seed: int = 0) -> ImageData:
    """Load a dataset by catalog name. Missing data raises `MissingDataError` (exit 3) with the fix."""
    return get_entry(name).load(root, download, seed)


def prepare(
    name: str, root: Path | None = None, synthesize: bool = False, backgrounds: Path | None = None, seed: int = 0
) -> str:
    """Get a dataset into the data root; returns what was done, in words.

    Raises:
        UsageError: an unknown name, or a data root that is a file or cannot be written.
    """
    get_entry(name)
    base = default_root(root)
    if base.exists() and not (base.is_dir() and os.access(base, os.W_OK | os.X_OK)):
        what = "is a file" if not base.is_dir() else "cannot be written"
        raise UsageError(f"the data root {base} {what}", "give a writable folder as --data-root")
    if name == "mnist":
        return f"MNIST ready in {mnist.prepare_mnist(root)}"
    if name == "fashion_mnist":
        return f"Fashion-MNIST ready in {fashion_mnist.prepare_fashion_mnist(root)}"
    if name == "cifar10":
        return f"CIFAR-10 ready in {tvsets.prepare_cifar10(root)}"
    if name == "celeba":
        tvsets.load_celeba(root, download=True)
        return f"CelebA ready in {default_root(root) / 'celeba'}"
    if name == "mnist_m":
        if not synthesize:
            raise MissingDataError(
                "MNIST-M has no official download",
                "add --synthesize to build it from MNIST, or put the PNG release under DATA_ROOT/mnist_m",
            )
        return f"MNIST-M synthesized in {mnist_m.synthesize(root, backgrounds, seed, fallback=False)}"
    if name == "scene15":
        raise MissingDataError(
            "15-Scene has no stable download address",
            "get scene_categories from its authors and pass the folder as --data-root",
        )
    raise UsageError("nothing to prepare for --data folder", "pass your folder with --data-root")
