"""The fine-tuning loop of one process, the same with one process or N data-parallel ones (Lightning Fabric).

`fit(fabric, job)` runs inside `engine.launch`: Fabric gives the device, the precision (autocast for
`bf16-mixed` / `16-mixed`) and DDP. Each process takes its share of every global batch
(`RankBatchSampler`), scales its loss so that DDP's gradient average is the mean over the whole global
batch, evaluates its share of the validation and test images and sums the counts over the processes:
N processes train the same model one process would (exactly, when no layer draws random numbers in
training: a frozen body, no dropout, no augmentation; batch-norm layers that train see their process's
share of a batch). Rank 0 writes the checkpoint after every epoch.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from visionlab.engine import Loop, RankBatchSampler, all_reduce_means, progress, rank_world, seed_everything
from visionlab.models import Backbone
from visionlab.transfer.commands import TrainRun
from visionlab.transfer.images import Decoded, eval_transform, loader, train_transform

# Process r of a data-parallel run seeds its random stream (dropout) and its workers' (augmentation) with
# seed + r * RANK_SEED_STRIDE: the processes draw differently, and the same on every run.
RANK_SEED_STRIDE = 7919


@dataclass
class FitJob:
    """What one training process needs (sent to every process of a data-parallel run)."""

    cfg: TrainRun
    backbone: Backbone  # with its new head (and its body frozen with --freeze)
    train: Decoded
    val: Decoded
    test: Decoded
    size: int
    checkpoint: Path
    name: str


@dataclass
class FitResult:
    """Per-epoch logs, the last model's test loss and accuracy, and the steps this call took."""

    history: list[dict[str, float]]
    test_loss: float
    test_acc: float
    steps: int


def freeze_body(backbone: nn.Module, head: nn.Module) -> None:
    """Only the head keeps requires_grad; batch-norm statistics of the body stay fixed too (see `set_train`)."""
    for p in backbone.parameters():
        p.requires_grad_(False)
    for p in head.parameters():
        p.requires_grad_(True)


def set_train(backbone: nn.Module, head: nn.Module, frozen: bool) -> None:
    """Training mode: the whole net, or with a frozen body only the head."""
    backbone.train(not frozen)
    head.train()


def optimizer(backbone: nn.Module, head: nn.Module, cfg: TrainRun) -> torch.optim.Optimizer:
    """AdamW (Loshchilov & Hutter 2019): the head at `lr`, the pretrained layers at `lr_backbone`."""
    head_ids = {id(p) for p in head.parameters()}
    body = [p for p in backbone.parameters() if p.requires_grad and id(p) not in head_ids]
    groups = [{"params": list(head.parameters()), "lr": cfg.lr}]
    if body:
        groups.append({"params": body, "lr": cfg.lr_backbone})
    return torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)


def make_step(
    model: Callable[[torch.Tensor], torch.Tensor],
    opt: Any,
    backward: Callable[[torch.Tensor], None] | None = None,
    world: int = 1,
) -> Callable[[tuple[torch.Tensor, torch.Tensor, int], float], dict[str, torch.Tensor]]:
    """One training step on `(images, labels, global batch size)` already on the device; returns tensor logs.

    With `world` processes, the loss of this process's share is scaled by world * share / global batch, so
    that DDP's average of the processes' gradients is the gradient of the mean over the global batch.
    """

    def step(batch: tuple[torch.Tensor, torch.Tensor, int], _: float) -> dict[str, torch.Tensor]:
        x, y, n_global = batch
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        scaled = loss if world == 1 else loss * (world * len(y) / n_global)
        opt.zero_grad(set_to_none=True)
        (backward or torch.Tensor.backward)(scaled)
        opt.step()
        return {"train/loss": loss.detach(), "train/acc": (logits.argmax(1) == y).float().mean()}

    return step


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Any,
    device: torch.device,
    desc: str = "eval",
    autocast: Callable[[], Any] = contextlib.nullcontext,
    reduce_sum: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over `batches` of (images, labels); sums stay on the device, summed over
    the processes by `reduce_sum` (data parallelism), and are read out once."""
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, count
    for x, y in progress(batches, desc, total=len(batches)):
        x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        y = y.to(device, non_blocking=True)
        with autocast():
            logits = model(x)
        sums += torch.stack(
            [F.cross_entropy(logits.float(), y, reduction="sum"), (logits.argmax(1) == y).sum(), y.new_tensor(len(y))]
        ).double()
    if reduce_sum is not None:
        sums = reduce_sum(sums)
    loss, correct, n = sums.tolist()
    return loss / max(1.0, n), correct / max(1.0, n)


class _OnDevice:
    """The batches of a DataLoader moved to the device, each with the size of its global batch."""

    def __init__(self, batches: Any, sampler: RankBatchSampler, device: torch.device) -> None:
        self.batches, self.sampler, self.device = batches, sampler, device

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        for (x, y), n in zip(self.batches, self.sampler.global_sizes()):
            x = x.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            yield x, y.to(self.device, non_blocking=True), n


def fit(fabric: Any, job: FitJob) -> FitResult:
    """Train `job.backbone` (resuming from `job.checkpoint`), validate every epoch, test the last model."""
    cfg, backbone = job.cfg, job.backbone
    rank, world = rank_world(fabric)
    if world > 1:
        seed_everything(cfg.seed + rank * RANK_SEED_STRIDE)
    device = fabric.device
    head = backbone.spec.head_of(backbone.net)
    model = backbone.to(device).to(memory_format=torch.channels_last)
    opt = optimizer(backbone, head, cfg)
    wrapped, wrapped_opt = fabric.setup(model, opt)
    pin = device.type == "cuda"
    sampler = RankBatchSampler(len(job.train.labels), cfg.batch_size, True, cfg.seed, rank=rank, world=world)
    tf_train = train_transform(job.size, cfg.crop, cfg.augment)
    train = loader(job.train, tf_train, sampler, cfg.workers, pin, cfg.seed + rank * RANK_SEED_STRIDE)
    tf_eval = eval_transform(job.size, cfg.crop)
    reduce_sum = (lambda t: fabric.all_reduce(t, reduce_op="sum")) if world > 1 else None

    def score(data: Decoded, desc: str) -> tuple[float, float]:
        share = data.subset(list(range(rank, len(data.labels), world)))  # this process's share
        every = RankBatchSampler(len(share.labels), cfg.batch_size, shuffle=False)
        batches = loader(share, tf_eval, every, 0, pin, cfg.seed)
        return evaluate(model, batches, device, desc, fabric.autocast, reduce_sum)

    timer: dict[str, float] = {}

    def batches(epoch: int) -> _OnDevice:
        set_train(backbone, head, cfg.freeze)
        timer["start"] = time.perf_counter()
        return _OnDevice(train, sampler.set_epoch(epoch), device)

    def end_epoch(epoch: int, logs: dict[str, float]) -> dict[str, float]:
        seconds = time.perf_counter() - timer["start"]
        vl, va = score(job.val, "validate")
        if rank == 0:
            acc = logs["train/acc"]
            print(f"{job.name} epoch {epoch + 1}: train acc {acc:.3f}, val acc {va:.3f} ({seconds:.0f} s)")
        return {"val/loss": vl, "val/acc": va, "epoch_s": seconds}

    loop = Loop(
        cfg.epochs,
        batches,
        make_step(wrapped, wrapped_opt, fabric.backward, world),
        {"model": model, "optimizer": opt},
        job.checkpoint,
        end_epoch,
        desc=f"train {job.name}",
        is_main=rank == 0,
        reduce=all_reduce_means(fabric),
    )
    result = loop.run()
    test_loss, test_acc = score(job.test, "test")
    return FitResult(result.history, test_loss, test_acc, result.steps)
