"""Source and target domains in memory: MNIST (source) and MNIST-M (target), both 32x32 RGB uint8.

The source is `mnist` from the catalog (full MNIST under the data root, else the 5,000 bundled digits),
padded from 28x28 to 32x32 as MNIST-M was made, and repeated to 3 channels. The target is the MNIST-M
PNG release at `--target-root`, else the copy under the data root; when neither exists, it is
synthesized once under the data root with Ganin's recipe (announced on stderr). Target labels serve
only evaluation, except for the train-on-target upper bound.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from visionlab.data.base import ImageData, TensorImages

SIZE = 32
# (rank, world) of a data-parallel process: which rows of each global batch it holds.
Share = tuple[int, int]


@dataclass
class Domains:
    """The four splits of a domain-adaptation experiment and what they are."""

    source_train: TensorImages
    source_test: TensorImages
    target_train: TensorImages  # its labels are used only by target-only and for evaluation
    target_test: TensorImages
    source_desc: str
    target_desc: str


def to_rgb32(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, 3, 32, 32): 28x28 is padded by 2 (as MNIST-M), other sizes resized."""
    if images.shape[-2:] == (28, 28):
        images = F.pad(images, (2, 2, 2, 2))
    elif images.shape[-2:] != (SIZE, SIZE):
        from torchvision.transforms.v2.functional import resize

        images = resize(images, [SIZE, SIZE], antialias=True)
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    return images.contiguous()


def _rgb(split: TensorImages) -> TensorImages:
    return TensorImages(to_rgb32(split.images), split.labels)


def find_target(target_root: Path | None, data_root: Path | None, synthesize: bool = True) -> Path:
    """The MNIST-M folder: `--target-root`, else the data root's copy, else one synthesized there now.

    `data_root` is the run's data root, resolved once where the run starts (`runner.prepare`).

    Raises:
        MissingDataError: `--target-root` holds no MNIST-M split folder.
    """
    from visionlab.data import mnist_m
    from visionlab.errors import MissingDataError

    if target_root is not None:
        folder = mnist_m.find_mnist_m(target_root)
        if folder is None:
            raise MissingDataError(
                f"no MNIST-M under {target_root} (expected mnist_m_train/ and mnist_m_test/ with their label files)",
                "give the PNG release's folder as --target-root",
            )
        return folder
    folder = mnist_m.find_mnist_m(data_root)
    if folder is not None:
        return folder
    if not synthesize:
        raise MissingDataError(
            f"MNIST-M not found under {data_root}",
            "run `visionlab data prepare mnist_m --synthesize`, or pass the release's folder as --target-root",
        )
    return mnist_m.synthesize(data_root)  # announces where it builds, or says why it cannot


@functools.lru_cache(maxsize=1)
def _bundled() -> ImageData:
    from visionlab.data.mnist import bundled_mnist

    return bundled_mnist()


def load_source(data_root: Path | None) -> ImageData:
    """MNIST: the full set under the data root, else the bundled digits (parsed once per process: it takes seconds)."""
    from visionlab.data.mnist import has_full, load_mnist

    return load_mnist(data_root, announce=False) if has_full(data_root) else _bundled()


def load_domains(data_root: Path | None, target_root: Path | None, target_train_limit: int = 0) -> Domains:
    """Source MNIST and target MNIST-M as 32x32 RGB uint8 tensors.

    Args:
        data_root: the data root (MNIST, and MNIST-M unless `target_root` is given).
        target_root: the MNIST-M PNG release's folder, or None.
        target_train_limit: use only the first N target training images (0: all).
    """
    import json
    import warnings

    from visionlab.data import mnist_m

    source = load_source(data_root)
    folder = find_target(target_root, data_root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t_train, t_test = mnist_m.load_split(folder, "train"), mnist_m.load_split(folder, "test")
    for w in caught[:3]:
        print(f"warning: {w.message}", file=sys.stderr)
    if target_train_limit:
        t_train = t_train.subset(range(min(target_train_limit, len(t_train))))
    marker = folder / "visionlab_synthesized.json"
    origin = json.loads(marker.read_text())["description"] if marker.exists() else "PNG release"
    return Domains(
        _rgb(source.train),
        _rgb(source.test),
        _rgb(t_train),
        _rgb(t_test),
        source.description,
        f"mnist_m ({origin}: {len(t_train)} train images used unlabelled / {len(t_test)} test)",
    )


# --- preprocessing on whole batches (no per-sample work) ------------------------------------------------


def normalize(images: torch.Tensor, mode: str = "image") -> torch.Tensor:
    """uint8 or [0, 1] float (N, 3, H, W) -> float input.

    `image`: each image standardized by its own mean and std over pixels and channels (removes the
    global colour and contrast that differ between domains); `global`: `(x - 0.5) / 0.5`. Channels-last memory.
    """
    x = images.float() / 255 if images.dtype == torch.uint8 else images
    if mode == "global":
        x = (x - 0.5) / 0.5
    else:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)
        x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last)  # about 1.4x faster convolutions and pooling on CPU


def _uniform(n: int, *shape: int, like: torch.Tensor, generator: torch.Generator | None, share: Share) -> torch.Tensor:
    """Uniform [0, 1) draws for the `n` rows of a batch, made on the batch's device.

    Under data parallelism (`share` = (rank, world)) every process draws for the whole global batch
    (`n * world` rows; the processes' generators are seeded alike) and keeps its rows `rank::world`, the
    rows `TensorBatches` gave it: N processes augment each image as one process would.
    """
    rank, world = share
    draws = torch.rand(n * world, *shape, device=like.device, generator=generator)
    return draws[rank::world] if world > 1 else draws


def colourize(
    images: torch.Tensor,
    generator: torch.Generator | None = None,
    contrast: float = 0.3,
    grey: bool = False,
    share: Share = (0, 1),
) -> torch.Tensor:
    """Render grey digits with a random foreground and background colour each ([0, 1] float out).

    `bg + g * (fg - bg)` with fg, bg uniform in RGB, which covers inversion (a dark digit on a light
    ground); a pair whose mean channel difference is below `contrast` gets the complementary colour
    `1 - bg` as foreground instead, so that every digit stays visible. `grey`: grey levels only (random
    polarity and contrast, no colour). Augmentation of the grey source only. The colours are drawn on the
    images' device, from `generator` (one of that device, e.g. `engine.device_generator`) or, with None,
    from the device's default generator (seeded by `engine.seed_everything`).
    """
    x = images.float() / 255 if images.dtype == torch.uint8 else images
    g = x.mean(dim=1, keepdim=True)
    n, c = len(x), 1 if grey else 3
    fg = _uniform(n, c, 1, 1, like=x, generator=generator, share=share).expand(n, 3, 1, 1)
    bg = _uniform(n, c, 1, 1, like=x, generator=generator, share=share).expand(n, 3, 1, 1)
    weak = (fg - bg).abs().mean(dim=1, keepdim=True) < contrast
    fg = torch.where(weak, 1 - bg, fg)
    return bg + g * (fg - bg)


def random_affine(
    x: torch.Tensor,
    degrees: float = 10.0,
    translate: float = 2.0,
    scale: float = 0.1,
    generator: torch.Generator | None = None,
    share: Share = (0, 1),
) -> torch.Tensor:
    """Small random rotation, scaling and shift of a float batch (one `grid_sample`), drawn on its device."""
    n, _, h, w = x.shape
    angle = (_uniform(n, like=x, generator=generator, share=share) * 2 - 1) * math.radians(degrees)
    s = 1 + (_uniform(n, like=x, generator=generator, share=share) * 2 - 1) * scale
    shift = (_uniform(n, 2, like=x, generator=generator, share=share) * 2 - 1) * (2 * translate / w)
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def augment_source(
    images: torch.Tensor, mode: str = "colour", generator: torch.Generator | None = None, share: Share = (0, 1)
) -> torch.Tensor:
    """Source augmentation, [0, 1] float out: `colour` (random colour pairs, inversions included) or `invert`
    (random grey polarity and contrast), each with a small affine jitter; `affine` alone; `none`.

    Every draw is made on the images' device (see `colourize`); `share` as in `_uniform`."""
    if mode in ("colour", "invert"):
        x = colourize(images, generator, grey=mode == "invert", share=share)
    else:
        x = images.float() / 255 if images.dtype == torch.uint8 else images
    return random_affine(x, generator=generator, share=share) if mode != "none" else x
