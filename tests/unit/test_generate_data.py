"""GAN training images: 32x32 in [-1, 1]; mixed-size and grey+colour folders are normalized."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from visionlab.generate.data import load_gan_data, to_float, to_uint8


def _folder(root, grey_only: bool = False) -> None:
    rng = np.random.default_rng(0)
    sizes = [(40, 30), (64, 64), (17, 90), (32, 32)]
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            grey = grey_only or i % 2 == 0
            arr = rng.integers(0, 256, (h, w) if grey else (h, w, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / c / f"{i}.png")


def test_mixed_sizes_and_grey_plus_colour_become_rgb_32(tmp_path) -> None:
    _folder(tmp_path / "imgs")
    data = load_gan_data("folder", tmp_path / "imgs", workers=0)
    n = len(data.train) + (0 if data.test is None else len(data.test))
    assert n == 8 and data.train.shape[1:] == (3, 32, 32) and data.classes == ["a", "b"]
    assert data.train.min() >= -1 and data.train.max() <= 1 and not data.digits


def test_an_all_grey_folder_keeps_one_channel(tmp_path) -> None:
    _folder(tmp_path / "imgs", grey_only=True)
    data = load_gan_data("folder", tmp_path / "imgs", workers=0)
    assert data.train.shape[1:] == (1, 32, 32) and "grey" in data.description


def test_bundled_mnist_is_resized_in_memory() -> None:
    data = load_gan_data("mnist", None, limit=100)
    assert data.train.shape == (100, 1, 32, 32) and data.digits and "bundled" in data.description
    assert data.test is not None and data.test.dtype == torch.uint8


def test_uint8_float_round_trip() -> None:
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    assert torch.equal(to_uint8(to_float(x)), x)
