"""A tiny Fashion-MNIST in torchvision's exact layout (`FashionMNIST/raw/*-ubyte`, IDX files), for tests without data.

Class k is a bright 8x8 square whose position is set by k (on a 4x3 grid of positions), with seeded noise:
easy to tell apart, so a classifier on it has a known answer.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = rng.integers(0, 40, size=(len(labels), 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        r, c = 2 + 8 * (k // 4), 2 + 6 * (k % 4)
        out[i, r : r + 8, c : c + 8] = 230
    return out


def write_idx(path: Path, array: np.ndarray) -> None:
    """One IDX file: magic (0, 0, uint8 code 8, number of dimensions), big-endian int32 sizes, then the bytes."""
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_fashion_mnist(root: Path, train_per_class: int = 8, test_per_class: int = 4, seed: int = 0) -> Path:
    """Write the four files under `root/FashionMNIST/raw`; returns `root` (a data root)."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, per_class in (("train", train_per_class), ("t10k", test_per_class)):
        labels = np.tile(np.arange(10, dtype=np.uint8), per_class)
        write_idx(raw / f"{split}-images-idx3-ubyte", _images(labels, rng))
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return root
