"""One training run of a method with `engine.Loop`, in one process or data-parallel (`engine.launch`).

DANN (Ganin et al., JMLR 2016, Algorithm 1) and the other methods share one step (`adapt.step`); this
module builds the network, the batches and the optimizer around it, runs the loop under Lightning Fabric
(`--precision`, `--devices`) and evaluates the result. The training images sit on the compute device.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from visionlab.adapt.commands import AdaptOptions
from visionlab.adapt.data import Domains, normalize
from visionlab.adapt.nets import DANN
from visionlab.adapt.step import StepSpec, make_step
from visionlab.data.base import TensorImages
from visionlab.engine import (
    Loop,
    PairedBatches,
    TensorBatches,
    all_reduce_means,
    eval_mode,
    launch,
    load_checkpoint,
    predict_chunks,
    seed_everything,
    select_device,
)
from visionlab.errors import UsageError

# The target's batch order is seeded with `seed + TARGET_ORDER_OFFSET` (a prime: apart from the source orders
# of the next seeds, seed + 1, seed + 2, ...).
TARGET_ORDER_OFFSET = 7919
# The training curves evaluate on the first CURVE_IMAGES test images of each domain after every epoch.
CURVE_IMAGES = 1000
# Test images per forward pass in evaluation.
EVAL_CHUNK = 500


@dataclass
class Job:
    """One training run (picklable: under `--devices N` it travels to every process).

    Attributes:
        spec: what each step does.
        arch: the network (`nets.DANN`).
        epochs, batch_size, momentum, weight_decay: the loop and SGD settings (batch_size per domain, global).
        seed: the weights' initialization, the augmentation stream and the source's batch order.
        target_seed: the target's batch order.
        checkpoint: the loop's checkpoint (a killed run resumes from it; DDP returns the model through it).
        desc: the progress bar's and the messages' label.
        curves: evaluate on the first CURVE_IMAGES test images after each epoch (display only).
        init: starting weights (pseudo-labelling); None: a fresh network.
        target_batch: target images per step when fewer than batch_size (pseudo-labels); 0: batch_size.
    """

    spec: StepSpec
    arch: str
    epochs: int
    batch_size: int
    momentum: float
    weight_decay: float
    seed: int
    target_seed: int
    checkpoint: Path
    desc: str
    curves: bool = True
    init: dict[str, torch.Tensor] | None = None
    target_batch: int = 0


@dataclass
class Trained:
    """A finished run: the network (None while it travels back from DDP processes), epoch logs, seconds."""

    model: DANN | None
    history: list[dict[str, float]]
    seconds: float


@dataclass
class MethodResult:
    """One method over its seeds: per-seed metrics, epoch logs, the last model."""

    method: str
    per_seed: list[dict[str, float]]
    histories: list[list[dict[str, float]]]
    model: DANN
    seconds: float
    seeds: list[int]


def make_job(
    cfg: AdaptOptions,
    method: str,
    seed: int,
    checkpoint: Path,
    augment: str | None = None,
    grl_lambda: float | None = None,
) -> Job:
    """The run of `method` with seed `seed` under the command's config (`augment` overrides `--augment`)."""
    spec = StepSpec(method, augment or cfg.augment, cfg.input_norm, cfg.lr, cfg.gamma, grl_lambda=grl_lambda)
    return Job(
        spec,
        cfg.arch,
        cfg.epochs,
        cfg.batch_size,
        cfg.momentum,
        cfg.weight_decay,
        seed,
        seed + TARGET_ORDER_OFFSET,
        checkpoint,
        f"{method} seed {seed}",
    )


def check_batch(what: str, n: int, batch_size: int, fix: str) -> None:
    """A usage error naming the sizes when a training split holds less than one batch."""
    if n < batch_size:
        raise UsageError(f"{what} has {n} images, fewer than one batch of --batch-size {batch_size}", fix)


def train(cfg: AdaptOptions, job: Job, data: Domains, target: TensorImages | None = None) -> Trained:
    """Run `job` on `data` (target batches from `target`, default the target training split), on
    `cfg.devices` processes with `cfg.precision`; returns the trained network on the compute device."""
    target = target if target is not None else data.target_train
    check_batch("the source training split", len(data.source_train), job.batch_size, "lower --batch-size")
    check_batch(
        "the target training split",
        len(target),
        job.target_batch or job.batch_size,
        f"use --batch-size {len(target)} or less, or more target images (--target-limit 0, a larger MNIST-M)",
    )
    out: Trained = launch(_worker, job, data, target, device=cfg.device, precision=cfg.precision, devices=cfg.devices)
    if out.model is None:  # trained in other processes: rank 0's checkpoint holds the weights
        model = DANN(job.arch).to(select_device(cfg.device), memory_format=torch.channels_last)
        model.load_state_dict(load_checkpoint(job.checkpoint)["state"]["model"])
        out = dataclasses.replace(out, model=model)
    return out


def _worker(fabric: Any, job: Job, data: Domains, target: TensorImages) -> Trained:
    """One process of `train` (all of it with one device)."""
    rank, world, device = fabric.global_rank, fabric.world_size, fabric.device
    seed_everything(job.seed)  # the same weights and augmentation stream in every process
    model = DANN(job.arch).to(device, memory_format=torch.channels_last)
    if job.init is not None:
        model.load_state_dict(job.init)
    opt = torch.optim.SGD(model.parameters(), lr=job.spec.lr, momentum=job.momentum, weight_decay=job.weight_decay)
    model_f, opt_f = fabric.setup(model, opt)
    spec = dataclasses.replace(job.spec, rank=rank, world=world)
    src, tgt = data.source_train, target
    pairs = PairedBatches(
        TensorBatches(
            src.images.to(device),
            src.labels.to(device),
            batch_size=job.batch_size,
            seed=job.seed,
            drop_last=True,
            rank=rank,
            world=world,
            name="the source training split",
        ),
        TensorBatches(
            tgt.images.to(device),
            tgt.labels.to(device),
            batch_size=job.target_batch or job.batch_size,
            seed=job.target_seed,
            drop_last=True,
            rank=rank,
            world=world,
            name="the target training split",
        ),
    )

    def end_epoch(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        if not job.curves or rank != 0:
            return {}
        quick = evaluate(model, data, device, spec.input_norm, limit=CURVE_IMAGES)
        print(
            f"{job.desc} epoch {epoch + 1}/{job.epochs}: label loss {logs['train/class_loss']:.3f}, "
            f"domain loss {logs['train/domain_loss']:.3f}, source/acc {quick['source/acc']:.3f}, "
            f"target/acc {quick['target/acc']:.3f} (first {CURVE_IMAGES:,} test images, display only)",
            flush=True,
        )
        return {f"curve/{k}": v for k, v in quick.items() if k.endswith("acc")}

    result = Loop(
        job.epochs,
        pairs.set_epoch,
        make_step(model_f, opt_f, spec, fabric.backward),
        {"model": model, "optimizer": opt},
        job.checkpoint,
        end_epoch,
        desc=job.desc,
        is_main=rank == 0,
        reduce=all_reduce_means(fabric),
    ).run()
    return Trained(model if world == 1 else None, result.history, result.seconds)


@torch.no_grad()
def evaluate(model: DANN, data: Domains, device: torch.device, norm: str, limit: int = 0) -> dict[str, float]:
    """Label accuracy and domain-classifier accuracy/loss on the source and target test splits."""
    out: dict[str, float] = {}
    with eval_mode(model):
        for name, split, label in (("source", data.source_test, 0.0), ("target", data.target_test, 1.0)):
            images, labels = (split.images[:limit], split.labels[:limit]) if limit else (split.images, split.labels)
            logits, dlogits = predict_chunks(
                lambda x: model(normalize(x, norm))[:2], images, chunk=EVAL_CHUNK, device=device
            )
            d_loss = F.binary_cross_entropy_with_logits(dlogits, torch.full_like(dlogits, label), reduction="none")
            out[f"{name}/acc"] = int((logits.argmax(1) == labels.to(logits.device)).sum()) / len(images)
            out[f"{name}/domain_acc"] = int(((dlogits > 0).float() == label).sum()) / len(images)
            # summed per chunk in float32, then across chunks in float64: the number earlier runs recorded
            chunk_sums = torch.stack([c.sum() for c in d_loss.split(EVAL_CHUNK)]).double()
            out[f"{name}/domain_loss"] = float(chunk_sums.sum()) / len(images)
    return out
