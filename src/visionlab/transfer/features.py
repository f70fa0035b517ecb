"""Frozen CNN features (Razavian et al. 2014; Donahue et al. 2014): every cut in one pass, cached by content.

One forward pass captures every requested cut point together (torchvision/timm FX feature extraction),
convolutional maps are global-average-pooled to vectors, and each (split, cut) is stored under
`$VISIONLAB_CACHE/features/<key>.npz` (never inside the user's data root), the key a hash of the
backbone, its weights, the image preparation and the image files (names, sizes, modification times) or
the image tensor bytes. A second run, or a sweep after a single-cut run, reads the features back
instead of running the network again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from visionlab.data import FileImages, ImageData, TensorImages, collate_skip
from visionlab.data.base import cache_root
from visionlab.engine import progress
from visionlab.errors import MissingDataError
from visionlab.models import Backbone
from visionlab.runs import Run, atomic_write_bytes
from visionlab.transfer.commands import FeatureRun
from visionlab.transfer.targets import Transformed, image_transform, input_size
from visionlab.transfer.views import View, pooled_views

CACHE_VERSION = 1


@dataclass
class Features:
    """Features of one split: cut -> (N, D) float32, with labels and what it cost."""

    by_cut: dict[str, np.ndarray]
    labels: np.ndarray
    skipped: int = 0
    seconds: float = 0.0
    from_cache: list[str] = field(default_factory=list)
    # the other views the same pass yielded (`views.views_of_pass`): (crop, flip) -> cut -> (N, D)
    byproducts: dict[View, dict[str, np.ndarray]] = field(default_factory=dict)


def dataset_fingerprint(dataset: TensorImages | FileImages) -> str:
    """A content hash of a dataset: file names, sizes and mtimes, or the image tensor bytes, plus labels."""
    digest = hashlib.sha256()
    if isinstance(dataset, FileImages):
        for path in dataset.paths:
            st = Path(path).stat()
            digest.update(f"{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    else:
        digest.update(dataset.images.numpy().tobytes())
    digest.update(np.asarray(dataset.labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


def weights_fingerprint(backbone: Backbone) -> str:
    """The weights' origin, and the file's size and mtime when they come from a file."""
    path = backbone.spec.weights_file() if backbone.pretrained and backbone.weights.startswith("ImageNet") else None
    if path is None and backbone.weights.startswith("from "):
        path = Path(backbone.weights[5:])
    if path is not None and Path(path).exists():
        st = Path(path).stat()
        return f"{backbone.weights}|{st.st_size}|{st.st_mtime_ns}"
    return backbone.weights


def cache_key(backbone: Backbone, data_key: str, cut: str, size: int, crop: str, flip: bool) -> str:
    """The cache file stem of one (split, cut) under one image preparation."""
    parts = [CACHE_VERSION, backbone.spec.name, weights_fingerprint(backbone), cut, size, crop, flip, data_key]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def cache_dir() -> Path:
    """Where features are cached: $VISIONLAB_FEATURE_CACHE, else `cache_root()/features` ($VISIONLAB_CACHE,
    else ~/.cache/visionlab/cache): never inside a data root, which is the user's."""
    env = os.environ.get("VISIONLAB_FEATURE_CACHE")
    return Path(env).expanduser() if env else cache_root() / "features"


def extract(
    backbone: Backbone,
    dataset: TensorImages | FileImages,
    cuts: list[str],
    *,
    size: int,
    crop: str = "center",
    flip: bool = False,
    batch_size: int = 32,
    workers: int = 1,
    device: torch.device | str = "cpu",
    cache: Path | None = None,
    desc: str = "features",
) -> Features:
    """Features of `dataset` at every cut in `cuts`; cached cuts are read, the rest come from ONE pass.

    Args:
        backbone: a `visionlab.models.Backbone`.
        dataset: items `(uint8 image (C, H, W), label)`; unreadable items (None) are skipped and counted.
        cuts: cut-point names (`backbone.spec.cuts`); an unknown one is a usage error listing the valid ones.
        size, crop: the image preparation (see `targets.image_transform`); `five` averages five crops.
        flip: average the features of each image and its mirror image.
        The cheaper views the pass yields too (`views.views_of_pass`) are cached beside and returned in
        `byproducts`.
        cache: the cache folder, or None for no cache.
    """
    backbone.spec.check_cuts(cuts)
    data_key = dataset_fingerprint(dataset) if cache is not None else ""
    keys = {c: cache_key(backbone, data_key, c, size, crop, flip) for c in cuts}
    out = Features({}, np.zeros(0, dtype=np.int64))
    for cut in cuts:
        path = cache / f"{keys[cut]}.npz" if cache is not None else None
        if path is not None and path.exists():
            with np.load(path) as f:
                out.by_cut[cut], out.labels, out.skipped = f["features"], f["labels"], int(f["skipped"])
            out.from_cache.append(cut)
    missing = [c for c in cuts if c not in out.by_cut]
    if not missing:
        return out
    extractor = backbone.extractor(missing)  # traced only when something must be computed
    start = time.perf_counter()
    views, labels, skipped = _forward_all(
        extractor, dataset, missing, size, crop, flip, batch_size, workers, device, desc
    )
    out.seconds = time.perf_counter() - start
    out.labels, out.skipped = labels, skipped
    out.by_cut.update(views.pop((crop, flip)))
    out.byproducts = views
    if cache is not None:
        for cut in missing:
            _save(cache / f"{keys[cut]}.npz", out.by_cut[cut], labels, skipped)
            for (other_crop, other_flip), feats in views.items():  # they came for free: keep them too
                path = cache / f"{cache_key(backbone, data_key, cut, size, other_crop, other_flip)}.npz"
                if not path.exists():
                    _save(path, feats[cut], labels, skipped)
    return out


def features_of(extractor: nn.Module, x: torch.Tensor, flip: bool, crop: str = "center") -> dict[str, torch.Tensor]:
    """One batch (N, 3, H, W), or (N, 5, 3, H, W) for `five`, -> {cut: pooled float features (N, D)} on the
    batch's device; with `flip` the mean of the image's and its mirror image's."""
    return pooled_views(extractor, x, crop, flip)[(crop, flip)]


@torch.inference_mode()
def _forward_all(
    extractor: nn.Module,
    dataset: TensorImages | FileImages,
    cuts: list[str],
    size: int,
    crop: str,
    flip: bool,
    batch_size: int,
    workers: int,
    device: torch.device | str,
    desc: str,
) -> tuple[dict[View, dict[str, np.ndarray]], np.ndarray, int]:
    """One pass over `dataset` (images decoded in `workers` processes, into pinned memory for a GPU) capturing
    every cut; the features stay on the device and are read out once at the end. Returns (every view the
    pass yields: (crop, flip) -> cut -> features, labels, skipped)."""
    device = torch.device(device)
    extractor = extractor.to(device).eval().to(memory_format=torch.channels_last)
    loader = DataLoader(
        Transformed(dataset, image_transform(extractor.backbone.spec, size, crop)),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    chunks: dict[View, dict[str, list[torch.Tensor]]] = {}
    labels: list[torch.Tensor] = []
    skipped = 0
    for x, y, bad in progress(loader, desc, total=len(loader)):
        skipped += bad
        if x is None:
            continue
        for view, feats in pooled_views(extractor, x.to(device, non_blocking=True), crop, flip).items():
            for c in cuts:
                chunks.setdefault(view, {}).setdefault(c, []).append(feats[c])
        labels.append(y)
    if not labels:
        raise MissingDataError("no readable image in the dataset", "check the image files")
    views = {view: {c: torch.cat(v).cpu().numpy() for c, v in by_cut.items()} for view, by_cut in chunks.items()}
    return views, torch.cat(labels).numpy(), skipped


def _collate(batch: list[Any]) -> tuple[torch.Tensor | None, torch.Tensor | None, int]:
    """`collate_skip`, but an all-unreadable batch still reports how many it skipped."""
    return collate_skip(batch) or (None, None, len(batch))


def _save(path: Path, features: np.ndarray, labels: np.ndarray, skipped: int) -> None:
    buf = io.BytesIO()
    np.savez(buf, features=features, labels=labels, skipped=np.int64(skipped))
    atomic_write_bytes(path, buf.getvalue())


@dataclass
class SplitFeatures:
    """Train and test features of a target set, and how many unreadable images were skipped in all."""

    train: Features
    test: Features
    skipped: int


def split_features(
    cfg: FeatureRun,
    backbone: Backbone,
    data: ImageData,
    cuts: list[str],
    device: torch.device,
    run: Run | None,
    on_train: Callable[[Features], None] | None = None,
) -> SplitFeatures:
    """Train and test features at `cuts` under the config's image preparation; records timing and skips.

    `on_train` is told the training features before the test split is extracted (e.g. to start the CV fits,
    which need only those, while the backbone runs on the test images)."""
    size = input_size(cfg, backbone.spec)
    cache = cache_dir() if cfg.cache else None
    kw: dict[str, Any] = dict(size=size, crop=cfg.crop, flip=cfg.flip, batch_size=cfg.batch_size, workers=cfg.workers)
    train = extract(backbone, data.train, cuts, device=device, cache=cache, desc="train features", **kw)
    if on_train is not None:
        on_train(train)
    test = extract(backbone, data.test, cuts, device=device, cache=cache, desc="test features", **kw)  # type: ignore[arg-type]
    skipped = train.skipped + test.skipped + int(data.notes.get("unreadable_skipped", 0))
    if skipped:
        print(f"note: skipped {skipped} unreadable image(s)", flush=True)
    if run is not None:
        run.note(
            image_size=size,
            features_cached=sorted(set(train.from_cache) & set(test.from_cache)),
            extraction_seconds=round(train.seconds + test.seconds, 2),
            skipped_images=skipped,
        )
    return SplitFeatures(train, test, skipped)
