"""CIFAR-10 and CelebA through torchvision, under the data root; downloaded only when asked."""

from __future__ import annotations

import contextlib
import importlib.util
import pickle
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from visionlab.data.base import ImageData, TensorImages, default_root
from visionlab.data.download import cleanup_on_failure, fetch, safe_extract
from visionlab.errors import MissingDataError


def has_cifar10(root: Path | None) -> bool:
    from torchvision.datasets import CIFAR10

    return (default_root(root) / CIFAR10.base_folder / "batches.meta").exists()


def prepare_cifar10(root: Path | None = None) -> Path:
    """Download the CIFAR-10 archive (MD5-checked) and extract it safely under the data root."""
    from torchvision.datasets import CIFAR10

    base = default_root(root)
    with cleanup_on_failure(base):
        archive = fetch(CIFAR10.url, base / CIFAR10.filename, CIFAR10.tgz_md5)
        safe_extract(archive, base)
    return base / CIFAR10.base_folder


def load_cifar10(root: Path | None = None, download: bool = False) -> ImageData:
    """CIFAR-10 (Krizhevsky 2009) as uint8 tensors (N, 3, 32, 32)."""
    from torchvision.datasets import CIFAR10

    if download and not has_cifar10(root):
        prepare_cifar10(root)
    if not has_cifar10(root):
        raise MissingDataError(
            f"cifar10 not found under {default_root(root)}",
            "run `visionlab data prepare cifar10` once online, or pass --data-root DIR",
        )
    base = default_root(root)
    try:
        tr, te = CIFAR10(base, train=True), CIFAR10(base, train=False)
    except (RuntimeError, OSError, pickle.UnpicklingError, EOFError) as err:  # torchvision's MD5 check, bad pickles
        raise MissingDataError(
            f"cifar10 under {base} is incomplete or corrupted: {str(err).splitlines()[0]}",
            f"delete {base / CIFAR10.base_folder} and run `visionlab data prepare cifar10` again",
        ) from None
    return ImageData(
        "cifar10", f"cifar10 ({len(tr)} train / {len(te)} test)", list(tr.classes), _as_tensors(tr), _as_tensors(te)
    )


def _as_tensors(dataset: Any) -> TensorImages:
    """A torchvision CIFAR dataset (N x 32 x 32 x 3 uint8 array) as TensorImages (N, 3, 32, 32)."""
    return TensorImages(torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(dataset.targets))


class _CelebAImages(Dataset):
    """CelebA items as (uint8 (3, H, W), 40 binary attributes)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        from torchvision.transforms.v2.functional import pil_to_tensor

        img, attr = self.dataset[i]
        return pil_to_tensor(img), attr


def load_celeba(root: Path | None = None, download: bool = False) -> ImageData:
    """CelebA (Liu et al. 2015) aligned faces with their 40 attributes as labels (classes = attribute names)."""
    from torchvision.datasets import CelebA

    base = default_root(root)
    if download and importlib.util.find_spec("gdown") is None:
        raise MissingDataError(
            "downloading CelebA needs the package gdown (its files are on Google Drive)",
            "run `pip install gdown` and try again, or put the CelebA files under DATA_ROOT/celeba",
        )
    try:
        with cleanup_on_failure(base / "celeba") if download else contextlib.nullcontext():
            tr = CelebA(base, split="train", target_type="attr", download=download)
            te = CelebA(base, split="test", target_type="attr")
    except (RuntimeError, OSError) as err:
        raise MissingDataError(
            f"celeba not available under {base}: {str(err).splitlines()[0]}",
            "run `visionlab data prepare celeba` once online, or pass --data-root DIR",
        ) from None
    names = [n for n in tr.attr_names if n]
    return ImageData(
        "celeba",
        f"celeba ({len(tr)} train / {len(te)} test, 40 attributes)",
        names,
        _CelebAImages(tr),
        _CelebAImages(te),
    )
