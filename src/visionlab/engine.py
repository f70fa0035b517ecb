"""Devices, seeding, Lightning Fabric, progress bars, checkpoints and the one shared training loop.

Training loops stay explicit (a GAN alternates D and G, DANN mixes domains): each method writes a
`step(batch, progress)` function; `fit` runs the epochs around it with a progress bar, averages the
step's logs, stops on NaN/inf, saves a checkpoint after every epoch and resumes from the last one.
"""

from __future__ import annotations

import math
import os
import random
import sys
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from visionlab.errors import AlreadyFinished, DivergenceError, UsageError
from visionlab.runs import atomic_write_bytes


def select_device(name: str = "auto") -> torch.device:
    """Pick a device: `auto` tries cuda, then mps, then cpu; an unavailable one is a usage error."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise UsageError("--device cuda: no CUDA device is available", "use --device cpu or auto")
    if name == "mps" and not mps:
        raise UsageError("--device mps: no Apple MPS device is available", "use --device cpu or auto")
    if name not in {"cpu", "cuda", "mps"}:
        raise UsageError(f"unknown device {name!r}", "use auto, cpu, cuda or mps")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; make CPU results repeatable. Returns a torch generator seeded likewise."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def make_fabric(device: str = "auto", precision: str = "32-true", devices: int = 1, strategy: str = "auto") -> Any:
    """A Lightning Fabric for `device` (mixed precision and DDP through its `precision`/`devices`).

    Fabric moves models and batches, wraps DDP and autocast, and leaves the loop to us.
    """
    from lightning_fabric import Fabric

    dev = select_device(device)
    accelerator = {"cuda": "cuda", "mps": "mps", "cpu": "cpu"}[dev.type]
    if devices > 1 and strategy == "auto":
        strategy = "ddp_spawn" if accelerator == "cpu" else "ddp"
    return Fabric(accelerator=accelerator, devices=devices, precision=precision, strategy=strategy)


def all_reduce_means(fabric: Any) -> Callable[[dict[str, float]], dict[str, float]]:
    """A `Loop.reduce` that averages each log over the processes of `fabric` (same keys in every process)."""

    def reduce(means: dict[str, float]) -> dict[str, float]:
        if fabric.world_size == 1 or not means:
            return means
        keys = sorted(means)
        values = fabric.all_reduce(torch.tensor([means[k] for k in keys], dtype=torch.float64), reduce_op="mean")
        reduced = dict(zip(keys, (float(v) for v in values.cpu())))
        return {k: reduced[k] for k in means}

    return reduce


def progress(iterable: Iterable, desc: str, total: int | None = None, leave: bool = False, **kw: Any) -> Any:
    """A tqdm progress bar on stderr; off when stderr is not a terminal unless VISIONLAB_PROGRESS=1."""
    from tqdm.auto import tqdm

    env = os.environ.get("VISIONLAB_PROGRESS")
    disable = None if env is None else env == "0"
    if disable is None:
        disable = not sys.stderr.isatty()
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=disable, dynamic_ncols=True, **kw)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint` (tensors and plain containers only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def save_checkpoint(path: Path, obj: dict[str, Any]) -> None:
    """Save `obj` with torch.save, atomically."""
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


class TensorBatches(Sized):
    """Mini-batches of in-memory tensors, shuffled by a seeded generator (no per-sample work).

    Args:
        tensors: tensors with the same first dimension (e.g. images and labels), on any device.
        batch_size: items per batch.
        shuffle: reshuffle with `seed + epoch` each epoch, so a resumed run sees the same order.
        drop_last: drop the last incomplete batch.
    """

    def __init__(
        self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False
    ) -> None:
        self.tensors = tensors
        self.n = len(tensors[0])
        if any(len(t) != self.n for t in tensors):
            raise ValueError("all tensors need the same length")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    def set_epoch(self, epoch: int) -> TensorBatches:
        self.epoch = epoch
        return self

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.n, generator=g).to(self.tensors[0].device)
        else:
            order = torch.arange(self.n, device=self.tensors[0].device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield tuple(t[idx] for t in self.tensors)


@dataclass
class Loop:
    """The shared training loop: epochs of `step` calls with progress, NaN checks and checkpoints.

    Attributes:
        epochs: how many epochs in all (a resumed run does only the rest).
        batches: `batches(epoch)` gives that epoch's iterable of batches (with a length).
        step: `step(batch, p)` trains on one batch; `p` in [0, 1) is the training progress (for
            schedules such as DANN's); returns a dict of scalar logs (tensors or floats).
        state: the objects to checkpoint, name -> module or optimizer (anything with state_dict()).
        checkpoint: the checkpoint file, or None for no checkpointing.
        end_epoch: `end_epoch(epoch, logs)` returns more logs for the epoch (validation, figures).
        desc: the progress bar's label.
        is_main: whether this process writes checkpoints (rank 0 under DDP).
        reduce: `reduce(means)` combines one epoch's mean logs across processes (DDP); every process
            calls it, so every process sees the same logs and stops together on NaN/inf.
    """

    epochs: int
    batches: Callable[[int], Iterable]
    step: Callable[[Any, float], dict[str, Any]]
    state: dict[str, Any]
    checkpoint: Path | None = None
    end_epoch: Callable[[int, dict[str, float]], dict[str, float]] | None = None
    desc: str = "train"
    is_main: bool = True
    reduce: Callable[[dict[str, float]], dict[str, float]] | None = None

    def resume(self) -> tuple[int, list[dict[str, float]]]:
        """Load the checkpoint if there is one: (first epoch to run, history so far)."""
        if self.checkpoint is None or not Path(self.checkpoint).exists():
            return 0, []
        ckpt = load_checkpoint(self.checkpoint)
        for name, obj in self.state.items():
            obj.load_state_dict(ckpt["state"][name])
        torch.set_rng_state(ckpt["rng"])
        return int(ckpt["epoch"]), list(ckpt["history"])

    def run(self) -> list[dict[str, float]]:
        """Train the remaining epochs; returns one dict of mean logs per epoch (the whole history).

        Raises:
            AlreadyFinished: the checkpoint already holds every epoch (its history is `args[0]`).
            DivergenceError: a log became NaN or infinite; the last good checkpoint stays.
        """
        start, history = self.resume()
        if start >= self.epochs and history:
            raise AlreadyFinished(history)
        for epoch in range(start, self.epochs):
            logs = self._epoch(epoch)
            if self.end_epoch is not None:
                logs.update(self.end_epoch(epoch, logs))
            logs["epoch"] = epoch + 1
            history.append(logs)
            if self.checkpoint is not None and self.is_main:
                save_checkpoint(
                    self.checkpoint,
                    {
                        "epoch": epoch + 1,
                        "history": history,
                        "rng": torch.get_rng_state(),
                        "state": {name: obj.state_dict() for name, obj in self.state.items()},
                    },
                )
        return history

    def _epoch(self, epoch: int) -> dict[str, float]:
        batches = self.batches(epoch)
        n = len(batches)  # type: ignore[arg-type]
        sums: dict[str, Any] = {}
        bar = progress(batches, f"{self.desc} {epoch + 1}/{self.epochs}", total=n)
        for i, batch in enumerate(bar):
            logs = self.step(batch, (epoch * n + i) / max(1, self.epochs * n))
            for key, value in logs.items():
                value = value.detach().float() if torch.is_tensor(value) else float(value)
                sums[key] = sums.get(key, 0.0) + value
        means = {k: float(v) / max(1, n) for k, v in sums.items()}
        if self.reduce is not None:
            means = self.reduce(means)
        bad = {k: v for k, v in means.items() if not math.isfinite(v)}
        if bad:
            where = (
                f"; the last good checkpoint is {self.checkpoint}"
                if self.checkpoint and Path(self.checkpoint).exists()
                else ""
            )
            raise DivergenceError(
                f"training diverged at epoch {epoch + 1}: {', '.join(f'{k}={v}' for k, v in bad.items())}{where}",
                "lower the learning rate or change the settings, then run again",
            )
        return means


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with requires_grad)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
